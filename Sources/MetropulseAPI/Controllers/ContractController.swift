import Foundation
import Hummingbird
import MetropulseCore
import NIOCore

/// `GET /openapi.json`, the API contract (`OpenAPIDocument`), and `GET /docs`, a page that renders
/// it with no script from elsewhere: every operation with its parameters, answers and the key it needs.
struct ContractController {
    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
        }
        router.get("docs") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocs.html)))
        }
    }
}

/// The `/docs` page: the document as HTML, made once.
enum OpenAPIDocs {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func schemaText(_ schema: Any?) -> String {
        guard let schema = schema as? [String: Any] else { return "" }
        if let ref = schema["$ref"] as? String { return String(ref.split(separator: "/").last ?? "") }
        if let alternatives = schema["anyOf"] as? [Any] {
            return alternatives.map(schemaText).joined(separator: " or ")
        }
        var text = schema["type"] as? String ?? (schema["type"] as? [String])?.joined(separator: " or ") ?? "any"
        if text.hasPrefix("array") { text = "array of " + schemaText(schema["items"]) }
        if let values = schema["enum"] as? [String] { text += " (" + values.joined(separator: ", ") + ")" }
        if let minimum = schema["minimum"], let maximum = schema["maximum"] { text += " \(minimum)–\(maximum)" }
        return text
    }

    static let html: String = {
        let document = OpenAPIDocument.document()
        let components = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
        var body = ""
        var tags: [String] = []
        for operation in OpenAPIDocument.operations where !tags.contains(operation.tag) { tags.append(operation.tag) }
        let paths = document["paths"] as? [String: [String: Any]] ?? [:]
        for tag in tags {
            body += "<section><h2>\(escape(tag))</h2>\n"
            for operation in OpenAPIDocument.operations where operation.tag == tag {
                let entry = paths[operation.path]?[operation.method.rawValue.lowercased()] as? [String: Any] ?? [:]
                let access: String
                switch operation.access {
                case .open: access = "open"
                case .key(let scope): access = "\(scope.rawValue) key"
                }
                body += """
                    <article id="\(escape(operation.operationID))"><h3><span class="method">\(operation.method.rawValue)</span> \
                    <code>\(escape(operation.path))</code> <span class="access">\(access)</span></h3>
                    <p>\(escape(operation.summary))</p>\n
                    """
                if let parameters = entry["parameters"] as? [[String: Any]] {
                    body +=
                        "<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>what</th></tr></thead><tbody>"
                    for p in parameters {
                        body +=
                            "<tr><td><code>\(escape(p["name"] as? String ?? ""))</code></td><td>\(escape(p["in"] as? String ?? ""))</td>"
                            + "<td>\(escape(schemaText(p["schema"])))</td><td>\(escape(p["description"] as? String ?? ""))</td></tr>"
                    }
                    body += "</tbody></table>\n"
                }
                if let responses = entry["responses"] as? [String: Any] {
                    body += "<ul class=\"responses\">"
                    for (status, value) in responses.sorted(by: { $0.key < $1.key }) {
                        let response = value as? [String: Any] ?? [:]
                        let content = response["content"] as? [String: Any] ?? [:]
                        let kinds = content.map { type, media in
                            "\(type) \(schemaText((media as? [String: Any])?["schema"]))"
                        }.sorted().joined(separator: ", ")
                        body +=
                            "<li><b>\(escape(status))</b> \(escape(response["description"] as? String ?? "")) <code>\(escape(kinds))</code></li>"
                    }
                    body += "</ul>\n"
                }
                body += "</article>\n"
            }
            body += "</section>\n"
        }
        body += "<section><h2>Schemas</h2>\n"
        for (name, value) in components.sorted(by: { $0.key < $1.key }) {
            let schema = value as? [String: Any] ?? [:]
            let required = Set(schema["required"] as? [String] ?? [])
            body += "<article id=\"schema-\(escape(name))\"><h3>\(escape(name))</h3>"
            if let properties = schema["properties"] as? [String: Any] {
                body += "<table><thead><tr><th>field</th><th>type</th><th></th></tr></thead><tbody>"
                for (field, fieldSchema) in properties.sorted(by: { $0.key < $1.key }) {
                    body +=
                        "<tr><td><code>\(escape(field))</code></td><td>\(escape(schemaText(fieldSchema)))</td><td>\(required.contains(field) ? "always" : "when known")</td></tr>"
                }
                body += "</tbody></table>"
            }
            body += "</article>\n"
        }
        body += "</section>\n"
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Metropulse API</title>
            <style>
            body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:960px;padding:1rem;color:#1b1f24;background:#fff}
            h1{margin:.2rem 0}h2{border-bottom:2px solid #d0d7de;margin-top:2rem;text-transform:capitalize}
            article{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .8rem;margin:.6rem 0}
            h3{font-size:1rem;margin:.3rem 0}.method{background:#0b5cad;color:#fff;border-radius:4px;padding:0 .4rem;font-size:.85rem}
            .access{float:right;font-weight:normal;color:#57606a;font-size:.85rem}
            table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-top:1px solid #eaeef2;padding:.2rem .4rem;text-align:left;vertical-align:top}
            code{font-family:ui-monospace,monospace;font-size:.9em}ul.responses{padding-left:1.2rem;font-size:.9rem}
            </style></head><body>
            <header><h1>Metropulse API</h1>
            <p>The contract as JSON: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1). Errors are
            <code>{"error": {"message": ...}}</code>, naming the bad parameter. Operator endpoints need a key in
            <code>X-API-Key</code> (or <code>Authorization: Bearer</code>): <i>read</i> sees, <i>admin</i> also acts.
            <a href="/">Back to the map</a>.</p></header>
            <main>
            \(body)</main></body></html>
            """
    }()
}

/// A request for a path of the API with a method it does not take gets 405 with `Allow`, not 404.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // A handler's own 404 (an unknown id) comes from a route of this method: kept as it is.
            let methods = OpenAPIDocument.operations(matching: request.uri.path).map(\.method)
            guard !methods.isEmpty, !methods.contains(request.method),
                request.method != .head || !methods.contains(.get)
            else { throw error }
            let allow = Set(methods.map(\.rawValue) + (methods.contains(.get) ? ["HEAD"] : [])).sorted()
                .joined(separator: ", ")
            throw HTTPError(
                .methodNotAllowed, headers: [.allow: allow],
                message: "\(request.method.rawValue) is not allowed on \(request.uri.path); allowed: \(allow)")
        }
    }
}
