package import NIOCore
import Synchronization

/// The part of the live feed its subscribers read without waiting for the feed's actor: whether a
/// refresher follows the store (then subscribers only wait for its versions), the current version,
/// and each event already encoded for this version, shared by the subscribers that asked the same
/// question from the same version. A change published to ten thousand subscribers of one topic
/// is selected and encoded once, and the same bytes are written to each.
package final class LiveFeedShared: Sendable {
    package struct Key: Hashable, Sendable {
        package var since: UInt64?
        /// The subscription: its topics and filter, in a canonical form.
        package var subscription: String
        /// How the event is framed (`sse`, `ws`).
        package var framing: String

        package init(since: UInt64?, subscription: String, framing: String) {
            self.since = since
            self.subscription = subscription
            self.framing = framing
        }
    }

    private enum Slot {
        case ready(ByteBuffer)
        /// Being encoded by one subscriber; the others asking wait for its bytes (`waiting`).
        case pending
    }

    private struct Encoded {
        var version: UInt64 = 0
        var events: [Key: Slot] = [:]
        var waiting: [Key: [CheckedContinuation<ByteBuffer?, Never>]] = [:]
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Void, Never>
        var deadline: ContinuousClock.Instant
    }

    private struct Waiting {
        var next = 0
        var waiters: [Int: Waiter] = [:]
        /// Ids handed out whose continuation is not registered yet, and those of them cancelled.
        var unregistered: Set<Int> = []
        var cancelled: Set<Int> = []
    }

    private let following = Atomic<Bool>(false)
    private let current = Atomic<UInt64>(0)
    private let encoded = Mutex(Encoded())
    private let waiting = Mutex(Waiting())
    /// Called at each new version, after the waiting subscribers are woken (`StreamHub`).
    private let listeners = Mutex<[@Sendable () -> Void]>([])
    /// At most this many events kept for one version (distinct subscriptions and starting points).
    static let limit = 4_096

    package init() {}

    /// Whether a refresher keeps the feed current.
    package var isFollowed: Bool { following.load(ordering: .relaxed) }
    package func followed(_ value: Bool) { following.store(value, ordering: .relaxed) }

    /// The feed's version now.
    package var version: UInt64 { current.load(ordering: .acquiring) }

    /// A new version: every waiting subscriber is woken.
    package func moved(to version: UInt64) {
        current.store(version, ordering: .releasing)
        let woken = waiting.withLock { state in
            defer { state.waiters.removeAll(keepingCapacity: true) }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
        for listener in listeners.withLock({ $0 }) { listener() }
    }

    /// `listener` is called at each new version.
    package func onMove(_ listener: @escaping @Sendable () -> Void) { listeners.withLock { $0.append(listener) } }

    /// Returns when the version moves past `seen`, when `deadline` has passed (noticed by the
    /// refresher's next `expire`), or when the task is cancelled. An idle subscriber is one
    /// continuation here: no task, no timer of its own.
    package func wait(after seen: UInt64, until deadline: ContinuousClock.Instant) async {
        let id = waiting.withLock { state in
            state.next += 1
            state.unregistered.insert(state.next)
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = waiting.withLock { state -> Bool in
                    state.unregistered.remove(id)
                    if state.cancelled.remove(id) != nil || version > seen || deadline <= .now { return true }
                    state.waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = waiting.withLock { state in
                let waiter = state.waiters.removeValue(forKey: id)
                if waiter == nil, state.unregistered.contains(id) { state.cancelled.insert(id) }
                return waiter
            }
            waiter?.continuation.resume()
        }
    }

    /// Wakes the subscribers whose wait has reached its deadline (the refresher, at each turn).
    package func expire(now: ContinuousClock.Instant = .now) {
        let due = waiting.withLock { state -> [CheckedContinuation<Void, Never>] in
            var due: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.deadline <= now {
                due.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return due
        }
        for continuation in due { continuation.resume() }
    }

    /// Wakes every waiting subscriber (a shutdown, or the refresher stopping).
    package func wakeAll() { expire(now: .now + .seconds(86_400 * 365)) }

    /// Subscribers waiting here now.
    package var waitingCount: Int { waiting.withLock { $0.waiters.count } }

    /// The event for `key` at `version`: encoded by `make` (which gives the bytes, empty when there
    /// is nothing to send, and the version they are of) for the first subscriber asking, and the
    /// same bytes for every other subscriber asking meanwhile or after, until the next version.
    /// Returns the bytes and the version they bring the subscriber to.
    package func event(
        _ key: Key, version: UInt64, make: () async throws -> (ByteBuffer, UInt64)
    ) async throws -> (ByteBuffer, UInt64) {
        enum Role {
            case have(ByteBuffer)
            case follow
            case lead
            case alone
        }
        // Subscribers still waiting for an older version's bytes encode their own.
        var orphans: [CheckedContinuation<ByteBuffer?, Never>] = []
        let role = encoded.withLock { state -> Role in
            if state.version < version {
                orphans = state.waiting.values.flatMap { $0 }
                state = Encoded(version: version)
            } else if state.version > version {
                return .alone
            }
            switch state.events[key] {
            case .ready(let bytes): return .have(bytes)
            case .pending: return .follow
            case nil:
                if state.events.count >= Self.limit { return .alone }
                state.events[key] = .pending
                return .lead
            }
        }
        for orphan in orphans { orphan.resume(returning: nil) }
        switch role {
        case .have(let bytes):
            return (bytes, version)
        case .alone:
            return try await make()
        case .follow:
            let bytes = await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
                let now = encoded.withLock { state -> ByteBuffer?? in
                    guard state.version == version, let slot = state.events[key] else { return .some(nil) }
                    switch slot {
                    case .ready(let bytes): return .some(bytes)
                    case .pending:
                        state.waiting[key, default: []].append(continuation)
                        return .none
                    }
                }
                if let now { continuation.resume(returning: now) }
            }
            if let bytes { return (bytes, version) }
            return try await make()
        case .lead:
            do {
                let (bytes, reached) = try await make()
                settle(key, version: version, bytes: reached == version ? bytes : nil)
                return (bytes, reached)
            } catch {
                settle(key, version: version, bytes: nil)
                throw error
            }
        }
    }

    /// Ends the encoding of `key` at `version`: its waiting subscribers get `bytes`, or encode
    /// their own when nil.
    private func settle(_ key: Key, version: UInt64, bytes: ByteBuffer?) {
        let waiting = encoded.withLock { state -> [CheckedContinuation<ByteBuffer?, Never>] in
            guard state.version == version, case .pending = state.events[key] else { return [] }
            state.events[key] = bytes.map { .ready($0) }
            return state.waiting.removeValue(forKey: key) ?? []
        }
        for continuation in waiting { continuation.resume(returning: bytes) }
    }
}
