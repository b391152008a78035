import Foundation
public import Logging

/// One line of a process's log as kept in `system_logs`: what every role logged, searchable by
/// role, level, text and time from any process that reaches the store.
public struct LogRecord: Sendable, Hashable {
    /// Assigned by the store; nil before it is written.
    public var id: Int64?
    /// Epoch ms.
    public var at: Int64
    /// The role of the process: `serve`, `scheduler`, `worker`, `api` or `sink`.
    public var service: String
    /// The process: `host-pid`.
    public var instance: String
    public var level: Logger.Level
    /// The logger's label (`metropulse`, `hummingbird`, ...).
    public var logger: String
    public var message: String
    /// The line's metadata, values as text.
    public var metadata: [String: String]

    public init(
        id: Int64? = nil, at: Int64, service: String, instance: String, level: Logger.Level, logger: String,
        message: String, metadata: [String: String] = [:]
    ) {
        self.id = id
        self.at = at
        self.service = service
        self.instance = instance
        self.level = level
        self.logger = logger
        self.message = message
        self.metadata = metadata
    }

    /// The text the full-text index holds: the words (`LogQuery.words`) of the message and the
    /// metadata values, so both backends' indexes see the same words whatever their parsers do
    /// with URLs, paths or hyphens.
    public var searchText: String {
        LogQuery.words(([message] + metadata.keys.sorted().map { metadata[$0] ?? "" }).joined(separator: " "))
            .joined(separator: " ")
    }

    /// The metadata as one JSON object (keys sorted), as stored.
    public var metadataJSON: String {
        guard !metadata.isEmpty else { return "{}" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(metadata)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Reads `metadataJSON` back; a column that is not such an object reads as no metadata.
    public static func metadata(fromJSON text: String) -> [String: String] {
        guard text != "{}" else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
    }
}

extension Logger.Level {
    /// 0 for trace up to 6 for critical: stored beside the name, so "this level and above" is a
    /// comparison.
    public var severity: Int {
        switch self {
        case .trace: 0
        case .debug: 1
        case .info: 2
        case .notice: 3
        case .warning: 4
        case .error: 5
        case .critical: 6
        }
    }
}

/// A search of the central log, newest first.
public struct LogQuery: Sendable, Hashable {
    /// Only this role's lines (`service`), or this process's (`instance`).
    public var service: String?
    /// Only lines at this level or above.
    public var minimumLevel: Logger.Level?
    /// Words that must all occur (as words or word beginnings) in the message or the metadata.
    public var terms: [String]
    /// Epoch ms, inclusive.
    public var since: Int64?
    /// Epoch ms, inclusive.
    public var until: Int64?
    public var limit: Int

    public init(
        service: String? = nil, minimumLevel: Logger.Level? = nil, text: String? = nil, since: Int64? = nil,
        until: Int64? = nil, limit: Int = 100
    ) {
        self.service = service
        self.minimumLevel = minimumLevel
        self.terms = text.map(Self.terms) ?? []
        self.since = since
        self.until = until
        self.limit = limit
    }

    /// The words of a free-text search: runs of letters and digits, lowercased, at most 16 of at
    /// most 64 characters, without accents. Both backends' full-text indexes split text the same way, and a word
    /// of letters and digits needs no escaping in either's query syntax.
    public static func terms(_ text: String) -> [String] {
        var seen = Set<String>()
        return words(text).map { String($0.prefix(64)) }.filter { seen.insert($0).inserted }.prefix(16).map { $0 }
    }

    /// Runs of letters and digits, lowercased and without accents ("Vélib’" is "velib").
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        for character in text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased() {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
