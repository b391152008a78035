import Synchronization

/// The current set of sources, shared by the scheduler, the workers and the API; reloadable.
public final class SourceCatalog: Sendable {
    private struct Sources {
        var all: [SourceDefinition]
        var byID: [String: SourceDefinition]
        /// Changes with every replacement, so the scheduler knows to plan again.
        var version: Int

        init(_ all: [SourceDefinition], version: Int) {
            self.all = all
            // A duplicated id (refused by the configuration loader) keeps its first declaration.
            byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            self.version = version
        }
    }

    private let state: Mutex<Sources>
    private let citiesState: Mutex<[City]>

    public init(_ sources: [SourceDefinition], cities: [City] = []) {
        state = Mutex(Sources(sources, version: 0))
        citiesState = Mutex(cities)
    }

    public var all: [SourceDefinition] { state.withLock { $0.all } }

    /// The sources with the version of the set they belong to.
    public var versioned: (sources: [SourceDefinition], version: Int) { state.withLock { ($0.all, $0.version) } }

    public var cities: [City] { citiesState.withLock { $0 } }

    public func city(id: String) -> City? { citiesState.withLock { cities in cities.first { $0.id == id } } }

    public func replace(cities: [City]) {
        citiesState.withLock { $0 = cities }
    }

    public func source(id: String) -> SourceDefinition? {
        state.withLock { $0.byID[id] }
    }

    public func replace(with sources: [SourceDefinition]) {
        state.withLock { $0 = Sources(sources, version: $0.version + 1) }
    }
}
