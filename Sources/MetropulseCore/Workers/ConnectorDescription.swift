/// What a connector says about itself: the kind it reads, the API shapes it knows, the source
/// keys it reads beyond the ones every source has, and what its observations are. The list of
/// descriptions (`ConnectorDescriptions`) is the one place the runtime, `sources validate`, the API
/// and `docs/configuration.md` learn the kinds and formats from.
public struct ConnectorDescription: Sendable, Hashable, Codable {
    /// A named API shape of a kind that reads several (`format:` on the source).
    public struct Format: Sendable, Hashable, Codable {
        public var name: String
        public var summary: String

        public init(_ name: String, _ summary: String) {
            self.name = name
            self.summary = summary
        }
    }

    /// What a connector's observations are: which endpoints and pages list its sources.
    public enum Produces: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        /// Bike-share stations (`/api/stations`).
        case stations
        /// Departures, vehicles and disruptions (`/api/lines`, `/api/vehicles`, ...).
        case transit
        /// Readings per city zone (`/api/cities`).
        case measurements

        public static func < (a: Produces, b: Produces) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var kind: SourceKind
    public var summary: String
    public var produces: Set<Produces>
    /// The shapes it reads; the first is the default when the source names none. Empty: the kind
    /// has one shape and `format` is refused.
    public var formats: [Format]
    /// When `formats` has none of the source's: the shape read by default is not a named format
    /// (a `json` source without `format` reads its `mapping`).
    public var defaultFormatIsNamed: Bool
    /// Source keys it reads beyond `id`, `kind`, `url(s)`, the schedule, `tags`, `fallbacks` and
    /// `fetch` (which every source has).
    public var keys: [String]

    public init(
        kind: SourceKind, summary: String, produces: Set<Produces>, formats: [Format] = [],
        defaultFormatIsNamed: Bool = true, keys: [String] = []
    ) {
        self.kind = kind
        self.summary = summary
        self.produces = produces
        self.formats = formats
        self.defaultFormatIsNamed = defaultFormatIsNamed
        self.keys = keys
    }

    public var formatNames: [String] { formats.map(\.name) }

    /// The format a source of this kind reads: its own, else the default (nil: none named).
    public func format(of source: SourceDefinition) -> String? {
        source.format ?? (defaultFormatIsNamed ? formats.first?.name : nil)
    }
}

/// Every connector's description, in the order they are documented.
public struct ConnectorDescriptions: Sendable, Hashable {
    public let all: [ConnectorDescription]

    public init(_ all: [ConnectorDescription]) {
        self.all = all
    }

    public subscript(kind: SourceKind) -> ConnectorDescription? { all.first { $0.kind == kind } }

    /// The kinds whose observations include `produces`.
    public func kinds(producing produces: ConnectorDescription.Produces) -> Set<SourceKind> {
        Set(all.filter { $0.produces.contains(produces) }.map(\.kind))
    }

    /// The table of kinds and formats in `docs/configuration.md` (a test keeps the two equal).
    public var markdown: String {
        var lines = ["| kind | reads | formats (`format:`) | keys of its own |", "|---|---|---|---|"]
        for description in all {
            var formats = description.formats.enumerated().map { index, format in
                "`\(format.name)`\(index == 0 && description.defaultFormatIsNamed ? " (default)" : ""): \(format.summary)"
            }
            if formats.isEmpty { formats = ["—"] }
            let keys = description.keys.isEmpty ? "—" : description.keys.map { "`\($0)`" }.joined(separator: ", ")
            lines.append(
                "| `\(description.kind.rawValue)` | \(description.summary) | \(formats.joined(separator: "; ")) | \(keys) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
