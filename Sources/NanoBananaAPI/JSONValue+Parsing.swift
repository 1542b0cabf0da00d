import Foundation

extension JSONValue {
    /// Parses an untrusted JSON document, refusing one in which an object names a key
    /// twice: a decoder keeps one of the two silently, and the other would never be
    /// validated. Every request body is read through here.
    public init(parsing body: some Collection<UInt8>) throws(ParameterError) {
        let data = Data(body)
        do {
            self = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw .malformedJSON
        }
        if let key = data.withUnsafeBytes({ Self.firstDuplicateKey(in: $0) }) { throw .duplicateField(key) }
    }

    /// The first key that an object of `json`, a valid JSON document, names twice. Keys are
    /// compared as decoded strings, as the decoder compares them (`"a"` and `"\u0061"` are
    /// one key). One pass, each object's keys in a set.
    static func firstDuplicateKey(in json: UnsafeRawBufferPointer) -> String? {
        // One entry per open container: an object's keys, or nil for an array.
        var containers: [Set<String>?] = []
        var expectingKey = false
        var index = 0
        while index < json.count {
            switch json[index] {
            case UInt8(ascii: "{"):
                containers.append([])
                expectingKey = true
            case UInt8(ascii: "["):
                containers.append(nil)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                containers.removeLast()
            case UInt8(ascii: ","):
                expectingKey = containers.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                let start = index
                var escaped = false
                index += 1
                while json[index] != UInt8(ascii: "\"") {
                    if json[index] == UInt8(ascii: "\\") {
                        escaped = true
                        index += 1
                    }
                    index += 1
                }
                guard expectingKey else { break }
                expectingKey = false
                let token = UnsafeRawBufferPointer(rebasing: json[start...index])
                let key =
                    escaped
                    ? (try? JSONDecoder().decode(String.self, from: Data(token))) ?? ""
                    : String(decoding: token.dropFirst().dropLast(), as: UTF8.self)
                if containers[containers.count - 1]?.insert(key).inserted == false { return key }
            default:
                break
            }
            index += 1
        }
        return nil
    }
}
