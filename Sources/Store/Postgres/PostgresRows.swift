import Foundation
import Logging
import NanoBananaAPI
import PostgresNIO

/// A PostgreSQL row as a ``ColumnReader``.
struct PostgresColumns: ColumnReader {
    let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    func string(_ index: Int) throws -> String { try cells[index].decode(String.self) }
    func optionalString(_ index: Int) throws -> String? { try cells[index].decode(String?.self) }
    func int(_ index: Int) throws -> Int { try cells[index].decode(Int.self) }
    func optionalInt(_ index: Int) throws -> Int? { try cells[index].decode(Int?.self) }
    func int64(_ index: Int) throws -> Int64 { try cells[index].decode(Int64.self) }
    func double(_ index: Int) throws -> Double { try cells[index].decode(Double.self) }
    func optionalDouble(_ index: Int) throws -> Double? { try cells[index].decode(Double?.self) }
    func bool(_ index: Int) throws -> Bool { try cells[index].decode(Bool.self) }
    func optionalBool(_ index: Int) throws -> Bool? { try cells[index].decode(Bool?.self) }
}

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

    /// Rows decoded as a stored record.
    func records<Record>(
        _ decode: (PostgresColumns) throws -> Record, _ query: PostgresQuery, logger: Logger
    ) async throws -> [Record] {
        try await rows(query, logger: logger).map { try decode(PostgresColumns($0)) }
    }

    /// The first column of the first row, if any.
    func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> T? {
        guard let row = try await rows(query, logger: logger).first else { return nil }
        return try row.makeRandomAccess()[0].decode(T.self)
    }
}
