import Foundation

/// What a key may do: `read` sees the operator endpoints (`/api/system/*`, `/metrics`, the console
/// pages); `admin` also changes things (every POST: commands, run now, requeue, scale).
public enum APIKeyScope: String, Sendable, CaseIterable, Comparable, Codable {
    case read
    case admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .admin: 1
        }
    }

    public static func < (a: APIKeyScope, b: APIKeyScope) -> Bool { a.rank < b.rank }
}

/// A named API key. The secret is never logged and never returned: `description` names the key only.
public struct APIKey: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var scope: APIKeyScope
    public var secret: String

    public init(name: String, scope: APIKeyScope, secret: String) {
        self.name = name
        self.scope = scope
        self.secret = secret
    }

    public var description: String { "\(name) (\(scope.rawValue))" }
}

/// The keys a process accepts (`api.keys`, `api.admin_key`). Looking a key up compares the given
/// secret with every key's in constant time, so the answer's timing tells nothing of which one
/// matched or how much of it.
public struct APIKeys: Sendable, CustomStringConvertible {
    public let keys: [APIKey]

    public init(_ keys: [APIKey] = []) {
        self.keys = keys
    }

    public var isEmpty: Bool { keys.isEmpty }

    /// The key whose secret is `given`.
    public func match(_ given: String) -> APIKey? {
        var found: APIKey?
        for key in keys where constantTimeEqual(given, key.secret) && found == nil { found = key }
        return found
    }

    public func named(_ name: String) -> APIKey? {
        keys.first { $0.name == name }
    }

    public var description: String { keys.map(\.description).joined(separator: ", ") }

    public struct ParseError: Error, Equatable {
        public let message: String
    }

    /// `name:scope:secret` entries separated by commas (the form of `METROPULSE_API_KEYS`): names of
    /// letters, digits, `-` and `_`, scope `read` or `admin`, a secret of 8 characters or more with
    /// no comma. Names and secrets must be unique.
    public static func parse(_ text: String) throws(ParseError) -> [APIKey] {
        var keys: [APIKey] = []
        for (index, entry) in text.split(separator: ",").enumerated() {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else {
                throw ParseError(message: "entry \(index + 1): expected name:scope:secret (read or admin)")
            }
            let (name, scopeText, secret) = (parts[0], parts[1], parts[2])
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
            guard !name.isEmpty, name.count <= 64, name.allSatisfy(allowed.contains) else {
                throw ParseError(message: "entry \(index + 1): a key name is 1-64 letters, digits, - or _")
            }
            guard let scope = APIKeyScope(rawValue: scopeText.lowercased()) else {
                throw ParseError(message: "key \(name): scope must be read or admin")
            }
            guard secret.count >= 8 else {
                throw ParseError(message: "key \(name): the secret must have at least 8 characters")
            }
            try add(APIKey(name: name, scope: scope, secret: secret), to: &keys)
        }
        return keys
    }

    /// Appends `key`, refusing a second key of the same name or the same secret.
    public static func add(_ key: APIKey, to keys: inout [APIKey]) throws(ParseError) {
        if keys.contains(where: { $0.name == key.name }) {
            throw ParseError(message: "key \(key.name): the name is given twice")
        }
        if keys.contains(where: { constantTimeEqual($0.secret, key.secret) }) {
            throw ParseError(message: "key \(key.name): the secret is the same as another key's")
        }
        keys.append(key)
    }
}

/// Equal strings, compared in time that does not depend on where they differ.
public func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let (x, y) = (Array(a.utf8), Array(b.utf8))
    var difference: UInt8 = x.count == y.count ? 0 : 1
    for i in 0..<max(x.count, y.count) {
        let (p, q) = (i < x.count ? x[i] : 0, i < y.count ? y[i] : 0)
        difference |= p ^ q
    }
    return difference == 0
}
