import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// SIRI read into one tree whatever its encoding, so one mapping serves SIRI XML and SIRI-Lite
/// JSON: elements (XML) and keys (JSON) become named children, namespace prefixes are dropped,
/// attributes become children, and a JSON array becomes repeated children of the same name.
/// A value is the node's text, or the text of a `value` / `Value` child (SIRI-Lite wrappers).
final class SIRINode {
    let name: String
    var text = ""
    var children: [SIRINode] = []

    init(_ name: String) {
        self.name = name
    }

    func first(_ name: String) -> SIRINode? { children.first { $0.name == name } }

    func all(_ name: String) -> [SIRINode] { children.filter { $0.name == name } }

    /// Follows a path of first children.
    func at(_ path: String...) -> SIRINode? {
        var node: SIRINode? = self
        for name in path { node = node?.first(name) }
        return node
    }

    /// Every node of that name below this one, in document order.
    func descendants(_ name: String) -> [SIRINode] {
        var found: [SIRINode] = []
        func walk(_ node: SIRINode) {
            for child in node.children {
                if child.name == name { found.append(child) }
                walk(child)
            }
        }
        walk(self)
        return found
    }

    var value: String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { return trimmed }
        return (first("value") ?? first("Value"))?.value
    }

    /// A SIRI boolean: `true`, or 1 from a JSON boolean.
    static func isTrue(_ value: String?) -> Bool { value == "true" || value == "1" }

    /// The value at a path, if any.
    func string(_ path: String...) -> String? {
        var node: SIRINode? = self
        for name in path { node = node?.first(name) }
        return node?.value
    }

    // MARK: - Readers

    static func parse(_ body: [UInt8]) throws -> SIRINode {
        guard
            let first = body.first(where: {
                !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF)
            })
        else {
            throw SIRIFormatError(message: "empty body")
        }
        return first == UInt8(ascii: "<") ? try xml(body) : try json(body)
    }

    static func json(_ body: [UInt8]) throws -> SIRINode {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw SIRIFormatError(message: "not valid JSON or XML")
        }
        let root = SIRINode("#root")
        func add(_ name: String, _ value: Any, to parent: SIRINode) {
            switch value {
            case let array as [Any]:
                for element in array { add(name, element, to: parent) }
            case let dictionary as [String: Any]:
                let node = SIRINode(name)
                for (key, child) in dictionary.sorted(by: { $0.key < $1.key }) { add(key, child, to: node) }
                parent.children.append(node)
            case is NSNull:
                break
            case let number as NSNumber:
                let node = SIRINode(name)
                // Booleans arrive as 1/0 on some platforms: read flags with `SIRINode.isTrue`.
                node.text = number.stringValue
                parent.children.append(node)
            default:
                let node = SIRINode(name)
                node.text = "\(value)"
                parent.children.append(node)
            }
        }
        if let dictionary = object as? [String: Any] {
            for (key, child) in dictionary.sorted(by: { $0.key < $1.key }) { add(key, child, to: root) }
        } else {
            add("#item", object, to: root)
        }
        return root
    }

    static func xml(_ body: [UInt8]) throws -> SIRINode {
        let builder = XMLTreeBuilder()
        let parser = XMLParser(data: Data(body))
        parser.delegate = builder
        guard parser.parse() else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"
            throw SIRIFormatError(message: "not well-formed XML (line \(parser.lineNumber)): \(reason)")
        }
        if let open = builder.unclosed {
            throw SIRIFormatError(message: "not well-formed XML: <\(open)> is never closed")
        }
        return builder.root
    }
}

struct SIRIFormatError: Error {
    var message: String
}

private final class XMLTreeBuilder: NSObject, XMLParserDelegate {
    let root = SIRINode("#root")
    private var stack: [SIRINode] = []

    override init() {
        super.init()
        stack = [root]
    }

    /// The innermost element still open at the end of the document, if any.
    var unclosed: String? { stack.count > 1 ? stack.last?.name : nil }

    private static func local(_ name: String) -> String {
        name.split(separator: ":").last.map(String.init) ?? name
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        let node = SIRINode(Self.local(elementName))
        for (key, value) in attributes where !key.hasPrefix("xmlns") {
            let attribute = SIRINode(Self.local(key))
            attribute.text = value
            node.children.append(attribute)
        }
        stack.last?.children.append(node)
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if stack.count > 1 { stack.removeLast() }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
    }
}
