/// Why a request body was refused. Each case renders as a sentence that names the field
/// and, for closed sets, the allowed values.
public enum ParameterError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedJSON
    case notAnObject
    case missing(field: String)
    case wrongType(field: String, expected: String, got: String)
    case notAllowed(field: String, value: String, allowed: [String])
    case outOfRange(field: String, value: String, range: String)
    case unknownField(String)
    case duplicateField(String)
    case empty(field: String)
    case tooLong(field: String, limit: Int, unit: String = "characters")
    case tooMany(field: String, limit: Int)
    case invalidImageURL(index: Int, reason: String)

    public var description: String {
        switch self {
        case .malformedJSON:
            return "The request body is not valid JSON."
        case .notAnObject:
            return "The request body must be a JSON object of parameters."
        case .missing(let field):
            return "Missing required parameter '\(field)'."
        case .wrongType(let field, let expected, let got):
            return "Invalid '\(field)': expected \(expected), got \(got)."
        case .notAllowed(let field, let value, let allowed):
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            return "Invalid '\(field)': \"\(ErrorBody.echo(value))\" is not allowed. Allowed values: \(list)."
        case .outOfRange(let field, let value, let range):
            return "Invalid '\(field)': \(value) is out of range (\(range))."
        case .unknownField(let name):
            let known = NanoBanana2Parameters.fieldNames.joined(separator: ", ")
            return "Unknown parameter '\(ErrorBody.echo(name))'. Accepted parameters: \(known)."
        case .duplicateField(let name):
            return "Parameter '\(ErrorBody.echo(name))' appears more than once: send each parameter once."
        case .empty(let field):
            return "Invalid '\(field)': it must not be empty."
        case .tooLong(let field, let limit, let unit):
            return "Invalid '\(field)': longer than \(limit) \(unit)."
        case .tooMany(let field, let limit):
            return "Invalid '\(field)': at most \(limit) entries are allowed."
        case .invalidImageURL(let index, let reason):
            return "Invalid 'image_urls[\(index)]': \(reason)"
        }
    }
}
