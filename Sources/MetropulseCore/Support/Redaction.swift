import Foundation
import Synchronization

/// Removes secrets from text that leaves the process (errors, log lines, API answers): the
/// password of any `scheme://user:password@host` URL, the values of query parameters that carry
/// keys (`api_key`, `apikey`, `key`, `token`, `access_token`, `$$app_token`, `password`, `secret`,
/// `signature`), and any value registered as a secret (the API keys read from the environment).
public enum Redaction {
    public static let mask = "***"

    private static let secretParameters: Set<String> = [
        "api_key", "apikey", "key", "token", "access_token", "$$app_token", "app_token", "password", "secret",
        "signature", "sig", "auth", "subscription-key",
    ]

    /// Values redacted wherever they appear (at least 6 characters, so short words are never hidden).
    private static let registered = SecretBook()

    /// Registers a secret value to redact from then on (feed API keys, database passwords).
    public static func register(_ secret: String) {
        guard secret.utf8.count >= 6 else { return }
        registered.add(secret)
    }

    /// `text` with every secret it holds replaced by `***`.
    public static func text(_ text: String) -> String {
        var result = text
        if result.contains("@") { result = userInfo(result) }
        if result.contains("?") || result.contains("&") { result = parameters(result) }
        for secret in registered.all where result.contains(secret) {
            result = result.replacing(secret, with: mask)
        }
        return result
    }

    /// `scheme://user:password@` → `scheme://user:***@`.
    private static func userInfo(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "?" || $0 == "#" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon] + mask + authority[at...]
            } else {
                result += authority
            }
            rest = rest[authorityEnd...]
        }
        return result + rest
    }

    /// `?api_key=abc&x=1` → `?api_key=***&x=1`.
    private static func parameters(_ text: String) -> String {
        var result = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            result.append(character)
            index = text.index(after: index)
            guard character == "?" || character == "&" else { continue }
            guard let equals = text[index...].firstIndex(of: "="),
                !text[index..<equals].contains(where: { $0 == "&" || $0 == " " || $0 == "?" })
            else { continue }
            let name = text[index..<equals].lowercased().removingPercentEscapesOfDollar()
            guard secretParameters.contains(name) else { continue }
            result += text[index...equals]
            let end =
                text[text.index(after: equals)...].firstIndex { $0 == "&" || $0 == " " || $0 == "#" || $0 == "\"" }
                ?? text.endIndex
            result += mask
            index = end
        }
        return result
    }
}

extension String {
    fileprivate func removingPercentEscapesOfDollar() -> String {
        contains("%24") ? replacing("%24", with: "$") : self
    }
}

/// The registered secrets.
private final class SecretBook: Sendable {
    private let secrets = Mutex<[String]>([])

    func add(_ secret: String) { secrets.withLock { if !$0.contains(secret) { $0.append(secret) } } }

    var all: [String] { secrets.withLock { $0 } }
}
