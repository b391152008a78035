import Synchronization

/// The worker-pool slot the current fetch runs in. A fetch that must wait (for a busy host's
/// turn) gives its slot back while it waits and takes one again before it goes on, so tasks
/// queued behind one slow publisher never hold the pool's slots from the others.
///
/// The pool binds it around each fetch as a task-local value; code running outside a pool sees
/// nil and simply waits.
public final class FetchSlot: Sendable {
    @TaskLocal public static var current: FetchSlot?

    private let held = Mutex(true)
    private let giveBack: @Sendable () -> Void
    private let take: @Sendable () async -> Void

    /// `giveBack` returns the slot to the pool; `take` waits for a free one and takes it.
    public init(giveBack: @escaping @Sendable () -> Void, take: @escaping @Sendable () async -> Void) {
        self.giveBack = giveBack
        self.take = take
    }

    /// Returns the slot to the pool, once; later calls do nothing until `reacquire`.
    public func release() {
        let wasHeld = held.withLock { held in
            defer { held = false }
            return held
        }
        if wasHeld { giveBack() }
    }

    /// Waits for a free slot and takes it, if this fetch gave its own back.
    public func reacquire() async {
        guard !held.withLock({ $0 }) else { return }
        await take()
        held.withLock { $0 = true }
    }
}
