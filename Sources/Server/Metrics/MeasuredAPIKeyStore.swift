import Store

/// An ``APIKeyStore`` that times every operation of the store it wraps, as
/// ``MeasuredJobStore`` does for jobs. ``changeToken()`` reads memory and is not timed.
struct MeasuredAPIKeyStore: APIKeyStore {
    let base: any APIKeyStore
    let timers: StoreTimers

    func authenticate(secret: String) async throws -> APIKey? {
        try await timers.measure(.authenticate) { try await base.authenticate(secret: secret) }
    }

    func changeToken() -> Int64 { base.changeToken() }

    func create(_ spec: APIKeySpec) async throws -> CreatedAPIKey {
        try await timers.measure(.createKey) { try await base.create(spec) }
    }

    func createFirstKey(name: String) async throws -> CreatedAPIKey? {
        try await timers.measure(.createFirstKey) { try await base.createFirstKey(name: name) }
    }

    func update(_ reference: String, _ change: APIKeyChange) async throws -> APIKey {
        try await timers.measure(.updateKey) { try await base.update(reference, change) }
    }

    func topUp(_ reference: String, amount: Int) async throws -> APIKey {
        try await timers.measure(.topUp) { try await base.topUp(reference, amount: amount) }
    }

    func revoke(_ reference: String) async throws -> APIKey {
        try await timers.measure(.revokeKey) { try await base.revoke(reference) }
    }

    func show(
        _ reference: String, ledgerLimit: Int?, before: Int64?
    ) async throws -> (key: APIKey, ledger: [CreditLedgerEntry]) {
        try await timers.measure(.showKey) { try await base.show(reference, ledgerLimit: ledgerLimit, before: before) }
    }

    func list() async throws -> [APIKey] {
        try await timers.measure(.listKeys) { try await base.list() }
    }

    func balance(keyID: String) async throws -> Int? {
        try await timers.measure(.balance) { try await base.balance(keyID: keyID) }
    }
}
