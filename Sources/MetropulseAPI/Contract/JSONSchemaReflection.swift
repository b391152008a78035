import Foundation
import Synchronization

/// The JSON Schema of a `Decodable` type, read from its own `init(from:)`: the type is decoded
/// once from a decoder that answers every request with a placeholder and notes what was asked
/// (which keys, which of them `decodeIfPresent`, of which type). The API's response types encode
/// what they decode (synthesized conformances, snake_case keys, absent optionals), so the
/// document `/openapi.json` serves cannot drift from the answers; schemathesis checks it does not.
///
/// A type with a custom `init(from:)` that validates values may refuse the placeholders; such a
/// type is described by hand instead (`OpenAPIDocument` does, for the few it has).
enum JSONSchemaReflection {
    /// The schema of `type`, with named object types collected in `components` under their type name.
    static func schema<T: Decodable>(of type: T.Type, components: inout [String: Any]) -> [String: Any] {
        let recorder = Recorder()
        let node = recorder.reflect(type)
        return node.jsonSchema(components: &components)
    }

    /// What the decoder learned of one value.
    indirect enum Node {
        case string, integer, number, boolean
        case array(Node)
        case dictionary(Node)
        case object(name: String, properties: [(String, Node, required: Bool)])
        case enumeration([String])
        case any

        static func nullable(_ schema: [String: Any]) -> [String: Any] {
            if let type = schema["type"] as? String {
                var copy = schema
                copy["type"] = [type, "null"]
                if var values = copy["enum"] as? [Any] {
                    values.append(NSNull())
                    copy["enum"] = values
                }
                return copy
            }
            return schema.isEmpty ? schema : ["anyOf": [schema, ["type": "null"]]]
        }

        func jsonSchema(components: inout [String: Any]) -> [String: Any] {
            switch self {
            case .string: return ["type": "string"]
            case .integer: return ["type": "integer"]
            case .number: return ["type": "number"]
            case .boolean: return ["type": "boolean"]
            case .any: return [:]
            case .enumeration(let values): return ["type": "string", "enum": values]
            case .array(let item): return ["type": "array", "items": item.jsonSchema(components: &components)]
            case .dictionary(let value):
                return ["type": "object", "additionalProperties": value.jsonSchema(components: &components)]
            case .object(let name, let properties):
                if components[name] == nil {
                    components[name] = [:]  // a placeholder, so a recursive type ends
                    var schema: [String: Any] = ["type": "object"]
                    var described: [String: Any] = [:]
                    for (key, node, required) in properties {
                        let schema = node.jsonSchema(components: &components)
                        // An optional field is absent from answers; a request may also send it as null.
                        described[key] = required ? schema : Self.nullable(schema)
                    }
                    schema["properties"] = described
                    let required = properties.filter(\.required).map(\.0).sorted()
                    if !required.isEmpty { schema["required"] = required }
                    components[name] = schema
                }
                return ["$ref": "#/components/schemas/\(name)"]
            }
        }
    }

    /// Gathers what one `init(from:)` asks; nested values are reflected with a recorder of their own.
    final class Recorder {
        var depth = 0

        func reflect<T: Decodable>(_ type: T.Type) -> Node {
            if let leaf = Leaf.of(type) { return leaf.node }
            if let dictionary = type as? any ReflectableDictionary.Type {
                return .dictionary(dictionary.valueNode(self))
            }
            if let cases = enumCases(type) { return .enumeration(cases) }
            guard depth < 16 else { return .any }
            depth += 1
            defer { depth -= 1 }
            let decoder = RecordingDecoder(recorder: self)
            _ = try? T(from: decoder)
            if let element = decoder.element { return .array(element) }
            if decoder.isSingleValue { return decoder.single ?? .any }
            return .object(name: Self.componentName(type), properties: decoder.properties)
        }

        static func componentName<T>(_ type: T.Type) -> String {
            // `OperationsBoard.QueueDTO` → `Queue`; generic arguments dropped. A second type of the
            // same short name gets its enclosing type's name before it (`LogBoardQueue`), so two
            // schemas never share one component.
            var name = String(reflecting: type)
            if let lt = name.firstIndex(of: "<") { name = String(name[..<lt]) }
            let parts = name.split(separator: ".").map(String.init)
            var last = parts.last ?? "Object"
            if last.hasSuffix("DTO") { last.removeLast(3) }
            return componentNames.withLock { names in
                if let owner = names[last], owner != name {
                    let qualified = (parts.dropLast().last ?? "") + last
                    names[qualified] = name
                    return qualified
                }
                names[last] = name
                return last
            }
        }

        /// Component names given so far, with the type each names.
        private static let componentNames = Mutex<[String: String]>([:])
    }
}

/// The raw values of a `String`-backed enumeration, for its schema's `enum`.
private func enumCases<T>(_ type: T.Type) -> [String]? {
    guard let enumeration = type as? any (CaseIterable & RawRepresentable).Type else { return nil }
    func cases<E: CaseIterable & RawRepresentable>(_ e: E.Type) -> [String]? {
        let values = e.allCases.compactMap { $0.rawValue as? String }
        return values.isEmpty ? nil : values
    }
    return cases(enumeration)
}

/// A value of `type` to hand back while reflecting: a leaf's placeholder, an enumeration's first
/// case, or the type decoded from a decoder that gives empty arrays and absent optionals.
private func placeholder<T: Decodable>(_ type: T.Type) -> T? {
    if let leaf = Leaf.of(type) { return leaf.placeholder }
    if let enumeration = type as? any CaseIterable.Type {
        func first<E: CaseIterable>(_ e: E.Type) -> Any? { e.allCases.first }
        return first(enumeration) as? T
    }
    return try? T(from: RecordingDecoder(recorder: nil))
}

/// `[String: Value]`, told apart at run time so its schema is `additionalProperties`.
protocol ReflectableDictionary {
    static func valueNode(_ recorder: JSONSchemaReflection.Recorder) -> JSONSchemaReflection.Node
}

extension Dictionary: ReflectableDictionary where Key == String, Value: Decodable {
    static func valueNode(_ recorder: JSONSchemaReflection.Recorder) -> JSONSchemaReflection.Node {
        recorder.reflect(Value.self)
    }
}

/// The leaf types: each one's schema, and the placeholder handed back when a decoder asks for it.
private enum Leaf {
    static func of<T>(_ type: T.Type) -> (node: JSONSchemaReflection.Node, placeholder: T)? {
        let found: (JSONSchemaReflection.Node, Any)? =
            switch type {
            case is String.Type: (.string, "")
            case is URL.Type: (.string, URL(fileURLWithPath: "/"))
            case is Bool.Type: (.boolean, false)
            case is Int.Type: (.integer, 0)
            case is Int64.Type: (.integer, Int64(0))
            case is Int32.Type: (.integer, Int32(0))
            case is Int16.Type: (.integer, Int16(0))
            case is Int8.Type: (.integer, Int8(0))
            case is UInt.Type: (.integer, UInt(0))
            case is UInt64.Type: (.integer, UInt64(0))
            case is UInt32.Type: (.integer, UInt32(0))
            case is UInt16.Type: (.integer, UInt16(0))
            case is UInt8.Type: (.integer, UInt8(0))
            case is Double.Type: (.number, 0.0)
            case is Float.Type: (.number, Float(0))
            default: nil
            }
        guard let found, let value = found.1 as? T else { return nil }
        return (found.0, value)
    }
}

private struct ReflectionStop: Error {}

/// An object of one key, to learn what the encoder's key strategy makes of a name (it leaves a
/// dictionary's keys as they are, so a keyed container it must be).
private struct OneKey: Encodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let name: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(0, forKey: Key(stringValue: name))
    }
}

/// With a recorder, notes every request; without one, only hands back placeholders (empty arrays,
/// absent optionals), to make a nested value.
private final class RecordingDecoder: Decoder {
    let recorder: JSONSchemaReflection.Recorder?
    var properties: [(String, JSONSchemaReflection.Node, required: Bool)] = []
    var element: JSONSchemaReflection.Node?
    var isSingleValue = false
    var single: JSONSchemaReflection.Node?

    init(recorder: JSONSchemaReflection.Recorder?) {
        self.recorder = recorder
    }

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedRecorder<Key>(decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        UnkeyedRecorder(decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        isSingleValue = true
        return SingleRecorder(decoder: self)
    }

    /// The JSON name of a key: what the API's own encoder writes for it (snake_case).
    static func jsonName(_ key: some CodingKey) -> String {
        let data = (try? APIRequestContext.jsonEncoder().encode(OneKey(name: key.stringValue))) ?? Data()
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Int]
        return object?.keys.first ?? key.stringValue
    }

    func note<T: Decodable>(_ type: T.Type, key: some CodingKey, required: Bool) throws -> T? {
        if let recorder {
            properties.append((Self.jsonName(key), recorder.reflect(type), required: required))
        }
        if !required { return nil }
        guard let value = placeholder(type) else { throw ReflectionStop() }
        return value
    }
}

private struct KeyedRecorder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let value = try decoder.note(type, key: key, required: true) else { throw ReflectionStop() }
        return value
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try decoder.note(type, key: key, required: false)
    }

    // The standard library's own overloads for the leaves would ask `decode` (a required key).
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
        try decoder.note(type, key: key, required: false)
    }

    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
        try decoder.note(type, key: key, required: false)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw ReflectionStop()
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw ReflectionStop() }
    func superDecoder() throws -> any Decoder { throw ReflectionStop() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw ReflectionStop() }
}

private struct UnkeyedRecorder: UnkeyedDecodingContainer {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }
    var count: Int? { nil }
    var isAtEnd: Bool { decoder.recorder == nil || decoder.element != nil }
    var currentIndex: Int { 0 }

    mutating func decodeNil() throws -> Bool { false }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        decoder.element = decoder.recorder?.reflect(type) ?? .any
        throw ReflectionStop()
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        throw ReflectionStop()
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { throw ReflectionStop() }
    mutating func superDecoder() throws -> any Decoder { throw ReflectionStop() }
}

private struct SingleRecorder: SingleValueDecodingContainer {
    let decoder: RecordingDecoder
    var codingPath: [any CodingKey] { [] }

    func decodeNil() -> Bool { false }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        decoder.single = decoder.recorder?.reflect(type) ?? .any
        guard let value = placeholder(type) else { throw ReflectionStop() }
        return value
    }
}
