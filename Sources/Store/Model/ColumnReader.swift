import Foundation

/// One result row, read by position: the seam between a store's driver and the record
/// decoders, so that each record is decoded once for every store. Positions follow the
/// records' `columns` lists (reading by index avoids a name lookup per column per row).
protocol ColumnReader {
    func string(_ index: Int) throws -> String
    func optionalString(_ index: Int) throws -> String?
    func int(_ index: Int) throws -> Int
    func optionalInt(_ index: Int) throws -> Int?
    func int64(_ index: Int) throws -> Int64
    func double(_ index: Int) throws -> Double
    func optionalDouble(_ index: Int) throws -> Double?
    func bool(_ index: Int) throws -> Bool
    func optionalBool(_ index: Int) throws -> Bool?
}

extension ColumnReader {
    /// Times are stored as seconds since 1970 in both stores.
    func date(_ index: Int) throws -> Date { Date(timeIntervalSince1970: try double(index)) }

    func optionalDate(_ index: Int) throws -> Date? {
        try optionalDouble(index).map(Date.init(timeIntervalSince1970:))
    }
}
