import Synchronization

/// The current set of sources, shared by the scheduler, the workers and the API; reloadable.
public final class SourceCatalog: Sendable {
    private let state: Mutex<[SourceDefinition]>

    public init(_ sources: [SourceDefinition]) {
        state = Mutex(sources)
    }

    public var all: [SourceDefinition] { state.withLock { $0 } }

    public func source(id: String) -> SourceDefinition? {
        state.withLock { sources in sources.first { $0.id == id } }
    }

    public func replace(with sources: [SourceDefinition]) {
        state.withLock { $0 = sources }
    }
}
