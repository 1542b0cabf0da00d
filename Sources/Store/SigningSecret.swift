import Crypto
import Foundation
import GRDB

extension SQLiteDatabase {
    /// The server's secret for signing output URLs: made once, kept in the database so it
    /// survives restarts (links stay valid) and is shared by every process on it.
    public func signingSecret() throws -> [UInt8] {
        try pool.write { db in
            if let existing = try Data.fetchOne(
                db, sql: "SELECT value FROM settings WHERE name = 'signing_secret'")
            {
                return [UInt8](existing)
            }
            let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            try db.execute(
                sql: "INSERT INTO settings (name, value) VALUES ('signing_secret', ?)", arguments: [Data(secret)])
            return secret
        }
    }
}
