import Synchronization

/// How many writes of runs a backend handle has finished in this process. Readers that keep an
/// answer while nothing new is stored compare it: it moves the moment this process's write is
/// committed, without a read of the store. Other processes' writes do not move it.
public final class WriteCount: Sendable {
    private let count = Atomic<UInt64>(0)

    public init() {}

    /// Moves the count; call after the write is committed (or has failed: a reader then looks
    /// again, which is only a wasted read).
    public func bump() {
        count.add(1, ordering: .releasing)
    }

    public var value: UInt64 { count.load(ordering: .acquiring) }
}
