import Foundation
import Logging
import NanoBananaAPI
import PostgresNIO

extension PostgresConnection {
    /// Runs a statement. A statement written to a connection that has already closed is
    /// never answered (PostgresNIO 1.33 drops it), so a closed connection fails first.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw StoreUnavailable(reason: "the database connection closed") }
        return try await self.query(query, logger: logger)
    }

    /// All rows of a query.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await run(query, logger: logger).collect()
    }

    /// The first column of the first row, if any.
    func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> T? {
        guard let row = try await rows(query, logger: logger).first else { return nil }
        return try row.makeRandomAccess()[0].decode(T.self)
    }
}

extension JobRecord {
    /// ``columns`` (which `init(postgres:)` reads by position, as SQLite's `init(row:)` does)
    /// qualified by the `jobs` table, for statements that join it.
    static let qualifiedPostgresColumns = columns.split(separator: ",")
        .map { "jobs." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    init(postgres row: PostgresRow) throws {
        let cells = row.makeRandomAccess()
        let status = JobStatus(rawValue: try cells[5].decode(String.self)) ?? .failed
        var state = JobState(
            status: status, attempts: try cells[6].decode(Int.self), maxAttempts: try cells[7].decode(Int.self),
            workerID: try cells[8].decode(String?.self),
            leaseExpiresAt: try cells[9].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            error: try cells[10].decode(String?.self))
        state.failureCode = try cells[21].decode(String?.self).flatMap(FailureCode.init(rawValue:))
        var output: JobOutput?
        if status == .completed, let blobKey = try cells[14].decode(String?.self),
            let format = OutputFormat(rawValue: try cells[15].decode(String?.self) ?? "")
        {
            output = JobOutput(
                blobKey: blobKey, format: format, width: try cells[16].decode(Int?.self) ?? 0,
                height: try cells[17].decode(Int?.self) ?? 0, text: try cells[18].decode(String?.self),
                engine: try cells[19].decode(String?.self) ?? "unknown",
                inferenceTime: try cells[20].decode(Double?.self) ?? 0,
                usage: try cells[22].decode(String?.self).flatMap(SQLiteJobStore.decodeUsage) ?? .init())
        }
        self.init(
            sequence: try cells[0].decode(Int64.self), id: try cells[1].decode(String.self),
            keyID: try cells[2].decode(String.self), model: try cells[3].decode(String.self),
            seed: try cells[4].decode(Int64.self), cost: try cells[23].decode(Int.self), state: state,
            createdAt: Date(timeIntervalSince1970: try cells[11].decode(Double.self)),
            startedAt: try cells[12].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            completedAt: try cells[13].decode(Double?.self).map(Date.init(timeIntervalSince1970:)), output: output)
    }
}
