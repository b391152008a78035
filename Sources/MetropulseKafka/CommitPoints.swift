#if Kafka
    /// How far the group's offset of each task partition may be committed: up to the first task
    /// this process read and has not finished, else past the last message it read. Kafka commits a
    /// position, not a set of finished messages, so a task finished out of order waits for the
    /// ones before it (at-least-once: a redelivered task repeats idempotent writes).
    struct CommitPoints<Key: Hashable & Sendable>: Sendable {
        /// Offsets read and not finished, ascending, per partition.
        private var unfinished: [Key: [Int64]] = [:]
        private var lastRead: [Key: Int64] = [:]

        /// The partition was assigned or taken away: nothing of it is known any more.
        mutating func reset(_ key: Key) {
            unfinished[key] = nil
            lastRead[key] = nil
        }

        /// A message at `offset` was read; `pending` when it is a task to run (not one skipped).
        mutating func read(_ key: Key, offset: Int64, pending: Bool) {
            lastRead[key] = offset
            if pending { unfinished[key, default: []].append(offset) }
        }

        /// The task at `offset` finished (any outcome).
        mutating func finished(_ key: Key, offset: Int64) {
            unfinished[key]?.removeAll { $0 == offset }
        }

        /// The next offset to commit, or nil when nothing of the partition was read.
        func point(_ key: Key) -> Int64? {
            if let first = unfinished[key]?.first { return first }
            return lastRead[key].map { $0 + 1 }
        }

        /// The offset of the last message read.
        func lastReadOffset(_ key: Key) -> Int64? { lastRead[key] }
    }
#endif
