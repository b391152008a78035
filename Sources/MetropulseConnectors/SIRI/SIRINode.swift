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
        func add(_ name: String, _ value: Any, to parent: SIRINode, depth: Int) throws {
            guard depth < maxDepth else { throw SIRIFormatError(message: "nested deeper than \(maxDepth) levels") }
            switch value {
            case let array as [Any]:
                for element in array { try add(name, element, to: parent, depth: depth + 1) }
            case let dictionary as [String: Any]:
                let node = SIRINode(name)
                for (key, child) in dictionary.sorted(by: { $0.key < $1.key }) {
                    try add(key, child, to: node, depth: depth + 1)
                }
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
            for (key, child) in dictionary.sorted(by: { $0.key < $1.key }) { try add(key, child, to: root, depth: 1) }
        } else {
            try add("#item", object, to: root, depth: 1)
        }
        return root
    }

    /// Elements or containers nested deeper than this are refused: SIRI nests about ten levels,
    /// and a deeper document is an attack on the stack.
    static let maxDepth = 128

    static func xml(_ body: [UInt8]) throws -> SIRINode {
        // A document type declaration is how entity expansion ("billion laughs") and external
        // entities get in; SIRI has no use for one.
        if containsDoctype(body) {
            throw SIRIFormatError(message: "XML with a document type declaration (<!DOCTYPE>) is refused")
        }
        // FoundationXML traps on element names that are not UTF-8 (found by the siri fuzz
        // target); SIRI is UTF-8, so anything else is refused here.
        guard String(validating: body, as: UTF8.self) != nil else {
            throw SIRIFormatError(message: "XML that is not valid UTF-8 is refused")
        }
        let builder = XMLTreeBuilder()
        let parser = XMLParser(data: Data(body))
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), !builder.tooDeep else {
            if builder.tooDeep {
                throw SIRIFormatError(message: "not accepted XML: elements nested deeper than \(maxDepth) levels")
            }
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"
            throw SIRIFormatError(message: "not well-formed XML (line \(parser.lineNumber)): \(reason)")
        }
        if let open = builder.unclosed {
            throw SIRIFormatError(message: "not well-formed XML: <\(open)> is never closed")
        }
        return builder.root
    }

    /// Whether `<!DOCTYPE` (any case) appears anywhere in the body.
    static func containsDoctype(_ body: [UInt8]) -> Bool {
        let pattern = Array("<!doctype".utf8)
        guard body.count >= pattern.count else { return false }
        var index = 0
        while index <= body.count - pattern.count {
            if body[index] == UInt8(ascii: "<"), body[index + 1] == UInt8(ascii: "!") {
                var matched = true
                for offset in 2..<pattern.count where body[index + offset] | 0x20 != pattern[offset] {
                    matched = false
                    break
                }
                if matched { return true }
            }
            index += 1
        }
        return false
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

    /// The document nested deeper than `SIRINode.maxDepth`; parsing was aborted.
    private(set) var tooDeep = false

    /// The innermost element still open at the end of the document, if any.
    var unclosed: String? { stack.count > 1 ? stack.last?.name : nil }

    private static func local(_ name: String) -> String {
        name.split(separator: ":").last.map(String.init) ?? name
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        guard stack.count <= SIRINode.maxDepth else {
            tooDeep = true
            parser.abortParsing()
            return
        }
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
