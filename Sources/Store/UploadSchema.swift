/// The uploads' table, the same in both stores but for the type of times.
///
/// `uploads`: one row per uploaded file (``StoredUpload``); its bytes are a row of `blobs`
/// under the same name, so that the signed file route and the workers read an upload as
/// they read a result image.
enum UploadSchema {
    static func tables(time: String) -> String {
        """
        CREATE TABLE uploads (
            name TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at \(time) NOT NULL
        );
        CREATE INDEX uploads_by_key ON uploads (key_id);
        CREATE INDEX uploads_by_creation ON uploads (created_at);
        """
    }
}
