import Crypto

/// The server's secret for signing output URLs: made by whichever process asks first and
/// kept in the store's settings, so it survives restarts (links stay valid) and every
/// process and node on the store signs alike. A store inserts ``candidate()`` unless a
/// secret is already there, then reads back whichever won.
enum SigningSecret {
    static let settingName = "signing_secret"

    static func candidate() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }
}
