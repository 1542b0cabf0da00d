import Foundation
import NanoBananaAPI

/// The API's OpenAPI 3.1 document: `openapi.json` beside this file, written by hand and
/// compiled into the binary, so that a server copied anywhere serves it. It is the contract
/// the route coverage test and CI's schemathesis run hold the server to.
public enum OpenAPIDocument {
    /// The document as written.
    public static var bytes: [UInt8] { PackageResources.openapi_json }

    /// The document's JSON.
    public static func json() throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The document a server serves: the `model` path parameter lists `modelSlugs`, the
    /// slugs that server answers, instead of the default one.
    public static func served(modelSlugs: [String]) throws -> [UInt8] {
        var document = try json()
        document[path: ["components", "parameters", "Model", "schema", "enum"]] = .array(modelSlugs.map { .string($0) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(document))
    }

    /// Every operation the document describes, as `METHOD /path` (`GET /v2/requests/{id}`,
    /// which is also how Hummingbird describes a route).
    public static func operations() throws -> Set<String> {
        guard case .object(let paths)? = try json()[path: ["paths"]] else { return [] }
        var operations: Set<String> = []
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for method in methods.keys where httpMethods.contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The keys of a path item that name operations (the others are `parameters`, …).
    static let httpMethods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
}

extension JSONValue {
    /// The value at `path` of nested object keys; setting it replaces a value that exists.
    public subscript(path path: [String]) -> JSONValue? {
        get {
            guard let key = path.first else { return self }
            guard case .object(let object) = self else { return nil }
            return object[key]?[path: Array(path.dropFirst())]
        }
        set {
            guard let key = path.first else {
                if let newValue { self = newValue }
                return
            }
            guard case .object(var object) = self, var child = object[key] else { return }
            child[path: Array(path.dropFirst())] = newValue
            object[key] = child
            self = .object(object)
        }
    }
}
