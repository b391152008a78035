import Synchronization

/// The current set of sources, shared by the scheduler, the workers and the API; reloadable.
public final class SourceCatalog: Sendable {
    private let state: Mutex<[SourceDefinition]>
    private let citiesState: Mutex<[City]>

    public init(_ sources: [SourceDefinition], cities: [City] = []) {
        state = Mutex(sources)
        citiesState = Mutex(cities)
    }

    public var all: [SourceDefinition] { state.withLock { $0 } }

    public var cities: [City] { citiesState.withLock { $0 } }

    public func city(id: String) -> City? { citiesState.withLock { cities in cities.first { $0.id == id } } }

    public func replace(cities: [City]) {
        citiesState.withLock { $0 = cities }
    }

    public func source(id: String) -> SourceDefinition? {
        state.withLock { sources in sources.first { $0.id == id } }
    }

    public func replace(with sources: [SourceDefinition]) {
        state.withLock { $0 = sources }
    }
}
