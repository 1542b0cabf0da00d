import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// The query of `GET /v2/requests`, the segmind SDK's `generations.history()` parameters,
/// checked: a bad value, a repeated parameter or an unknown one is a 400 naming it.
struct HistoryParameters: Equatable {
    /// Every parameter the listing takes. (The segmind SDK's `user_id` and `user_email`
    /// name Segmind accounts; here `key` names a key, for an admin key.)
    static let names = [
        "page", "per_page", "status", "model_name", "from_date", "to_date", "sort_by", "sort_order", "key",
    ]
    /// The most rows on a page, and the last page number accepted.
    static let maxPerPage = 100
    static let maxPage = 1_000_000

    var page = 1
    var perPage = 20
    var status: HistoryQuery.StatusFilter?
    var modelName: String?
    /// The first day shown, from its start (UTC).
    var fromDate: Date?
    /// The day after the last day shown, from its start (UTC): `to_date` is inclusive.
    var toDateExclusive: Date?
    var sort = HistoryQuery.SortField.created
    var order = HistoryQuery.SortOrder.descending
    /// Another key's id or name, for an admin key.
    var key: String?

    init() {}

    init(query: [(name: String, value: String)]) throws(APIError) {
        var seen = Set<String>()
        for (name, value) in query {
            guard Self.names.contains(name) else {
                throw .badRequest(
                    "Unknown query parameter '\(ErrorBody.echo(name))'. The history takes: \(Self.names.joined(separator: ", "))."
                )
            }
            guard seen.insert(name).inserted else {
                throw .badRequest("The query parameter '\(name)' is given more than once.")
            }
            try set(name, value)
        }
    }

    init(request: Request) throws(APIError) {
        try self.init(query: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
    }

    private mutating func set(_ name: String, _ value: String) throws(APIError) {
        switch name {
        case "page": page = try Self.integer(name, value, in: 1...Self.maxPage)
        case "per_page": perPage = try Self.integer(name, value, in: 1...Self.maxPerPage)
        case "status": status = try Self.choice(name, value, HistoryQuery.StatusFilter.self)
        case "model_name":
            guard !value.isEmpty, value.count <= 200 else {
                throw .badRequest("Invalid 'model_name': give 1 to 200 characters of a model's slug.")
            }
            modelName = value
        case "from_date": fromDate = try Self.day(name, value)
        case "to_date": toDateExclusive = try Self.day(name, value).addingTimeInterval(86_400)
        case "sort_by": sort = try Self.choice(name, value, HistoryQuery.SortField.self)
        case "sort_order": order = try Self.choice(name, value, HistoryQuery.SortOrder.self)
        default:
            guard !value.isEmpty else { throw .badRequest("Invalid '\(name)': give a key's id or name.") }
            key = value
        }
    }

    /// The store's query for `keyID`, leaving out what finished at or before `finishedAfter`.
    func query(keyID: String, finishedAfter: Date) -> HistoryQuery {
        HistoryQuery(
            keyID: keyID, finishedAfter: finishedAfter, status: status, modelContains: modelName,
            createdFrom: fromDate, createdBefore: toDateExclusive, sort: sort, order: order,
            offset: (page - 1) * perPage, limit: perPage)
    }

    private static func integer(_ name: String, _ value: String, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard value.allSatisfy(\.isASCII), let number = Int(value), range.contains(number) else {
            throw .badRequest(
                "Invalid '\(name)' '\(ErrorBody.echo(String(value.prefix(40))))': use a whole number from \(range.lowerBound) to \(range.upperBound)."
            )
        }
        return number
    }

    private static func choice<Choice: RawRepresentable & CaseIterable>(
        _ name: String, _ value: String, _ type: Choice.Type
    ) throws(APIError) -> Choice where Choice.RawValue == String {
        guard let choice = Choice(rawValue: value) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest(
                "Invalid '\(name)' '\(ErrorBody.echo(String(value.prefix(40))))': use one of \(allowed).")
        }
        return choice
    }

    /// The start (UTC) of a `YYYY-MM-DD` day, a real one of the years 0000 to 9999 (RFC 3339's
    /// `full-date`, the proleptic Gregorian calendar).
    static func day(_ name: String, _ value: String) throws(APIError) -> Date {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            year >= 0, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else {
            throw .badRequest(
                "Invalid '\(name)' '\(ErrorBody.echo(String(value.prefix(40))))': use a date as YYYY-MM-DD (UTC), e.g. 2026-11-25."
            )
        }
        return Date(timeIntervalSince1970: Double(daysSince1970(year: year, month: month, day: day)) * 86_400)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard
    /// Hinnant's `days_from_civil`).
    static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
