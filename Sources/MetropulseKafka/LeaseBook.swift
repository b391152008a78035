#if Kafka
    import MetropulseCore

    /// The tasks one Kafka queue consumer has read and not finished, who holds each and until
    /// when, and the recovery of each partition's first task (`HeadRecovery`): the queue's lease
    /// logic as a value, with no broker and no lock, so each state change is unit-tested.
    /// `KafkaWorkQueue` keeps one behind its lock and does the I/O around it.
    ///
    /// A task's attempt counts the leases taken; a lease taken on the last attempt makes the task
    /// *spent*: when that lease passes, the task is dead rather than claimed again.
    struct LeaseBook<Key: Hashable & Sendable>: Sendable {
        struct Entry: Sendable {
            var id: Int64
            var record: TaskRecord
            /// 0 high priority, 1 normal, 2 retry.
            var topicIndex: Int
            var key: Key
            var offset: Int64
            var leaseOwner: String?
            var leaseExpiresAt: Int64?
            /// The attempt of the current (or last) lease.
            var attempt: Int

            /// Leased on its last attempt: when that lease passes, the task is dead, not claimed again.
            var isSpent: Bool { leaseOwner != nil && attempt >= record.maxAttempts }

            func isLeased(at now: Int64) -> Bool { leaseOwner != nil && (leaseExpiresAt ?? 0) > now }

            var claimedTask: ClaimedTask {
                ClaimedTask(
                    id: id, jobID: record.jobID, sourceID: record.sourceID, priority: record.priority,
                    attempt: attempt, maxAttempts: record.maxAttempts, enqueuedAt: record.enqueuedAt,
                    runAt: record.runAt, leaseOwner: leaseOwner ?? "", leaseExpiresAt: leaseExpiresAt ?? 0)
            }
        }

        /// The lease owner of a task whose earlier starts were lost with their workers: with its
        /// attempts spent it goes to the dead letters on the next claim.
        static var lostWorker: String { "(lost worker)" }

        private(set) var entries: [Int64: Entry] = [:]
        /// Partitions whose first task since their assignment has not finished yet.
        private(set) var recovering: [Key: HeadRecovery] = [:]

        var count: Int { entries.count }

        /// A partition was assigned, with the start mark read for it (nil when none).
        mutating func assigned(_ key: Key, mark: StartMark?) {
            recovering[key] = HeadRecovery(inherited: mark)
        }

        /// Partitions went away: their tasks and recovery are forgotten (an outcome for one of
        /// them comes too late; the next owner runs it again).
        mutating func revoked(_ keys: Set<Key>) {
            entries = entries.filter { !keys.contains($0.value.key) }
            for key in keys { recovering[key] = nil }
        }

        /// A task was read. Returns the starts lost with earlier members when it is its partition's
        /// head and a mark names it (0 otherwise); those count as attempts, and a task whose
        /// attempts they spend is held by `lostWorker` with a passed lease, so the next claim
        /// sends it to the dead letters.
        @discardableResult
        mutating func read(id: Int64, record: TaskRecord, topicIndex: Int, key: Key, offset: Int64) -> Int {
            let lost = recovering[key]?.read(offset: offset) ?? 0
            var entry = Entry(
                id: id, record: record, topicIndex: topicIndex, key: key, offset: offset,
                attempt: record.attempts + lost)
            if lost > 0 && entry.attempt >= record.maxAttempts {
                entry.leaseOwner = Self.lostWorker
                entry.leaseExpiresAt = 0
            }
            entries[id] = entry
            return lost
        }

        /// Tasks whose lease on their last attempt has passed: they are to be declared dead.
        func spent(now: Int64) -> [Entry] {
            entries.values.filter { $0.isSpent && ($0.leaseExpiresAt ?? 0) <= now }.sorted { $0.id < $1.id }
        }

        /// Whether a task is due and held by nobody (the stall signal).
        func hasWaiting(now: Int64) -> Bool {
            entries.values.contains { $0.leaseOwner == nil && $0.record.runAt <= now }
        }

        /// Leases up to `limit` due tasks to `owner` until `now + leaseMillis`, best first
        /// (priority, then time due, then id). A task whose lease passed is claimable again; a
        /// partition's tasks wait for its head to start, and for it to finish when it is a
        /// suspect (`HeadRecovery`). Returns the tasks leased and the start marks to record
        /// before any of them runs (one per partition whose head was leased).
        mutating func claim(owner: String, limit: Int, leaseMillis: Int64, now: Int64)
            -> (tasks: [ClaimedTask], marks: [Key: StartMark])
        {
            let ready = entries.values.filter { entry in
                entry.record.runAt <= now && (entry.leaseOwner == nil || (entry.leaseExpiresAt ?? 0) <= now)
                    && !entry.isSpent
            }
            .sorted { lhs, rhs in
                (-lhs.record.priority, lhs.record.runAt, lhs.id) < (-rhs.record.priority, rhs.record.runAt, rhs.id)
            }
            var picked: [Int64: ClaimedTask] = [:]
            var marks: [Key: StartMark] = [:]
            func claimable(_ entry: Entry) -> Bool {
                picked[entry.id] == nil && recovering[entry.key].map { $0.mayClaim(offset: entry.offset) } ?? true
            }
            func take(_ entry: Entry) {
                var leased = entry
                leased.leaseOwner = owner
                leased.leaseExpiresAt = now + leaseMillis
                leased.attempt += 1
                entries[entry.id] = leased
                if let mark = recovering[entry.key]?.start(
                    offset: entry.offset, attempt: leased.attempt, producedAttempts: entry.record.attempts)
                {
                    marks[entry.key] = mark
                }
                picked[entry.id] = leased.claimedTask
            }
            if recovering.values.contains(where: { $0.head != nil && !$0.headStarted }) {
                // Starting a partition's head makes the rest of it claimable: best first, one by one.
                while picked.count < limit, let next = ready.first(where: claimable) { take(next) }
            } else {
                for entry in ready where picked.count < limit && claimable(entry) { take(entry) }
            }
            return (ready.compactMap { picked[$0.id] }, marks)
        }

        /// The start marks of these partitions could not be recorded: the tasks of `claimed` in
        /// them are given back (lease and attempt undone) and their heads count as not started.
        /// Returns the ids given back.
        mutating func startsNotRecorded(_ keys: Set<Key>, claimed: [ClaimedTask], owner: String) -> Set<Int64> {
            var undone: Set<Int64> = []
            for task in claimed {
                guard var entry = entries[task.id], keys.contains(entry.key), entry.leaseOwner == owner,
                    entry.attempt == task.attempt
                else { continue }
                entry.leaseOwner = nil
                entry.leaseExpiresAt = nil
                entry.attempt -= 1
                entries[task.id] = entry
                undone.insert(task.id)
            }
            for key in keys { recovering[key]?.startNotRecorded() }
            return undone
        }

        /// Extends `owner`'s leases of these tasks to `until` (never shortens one).
        mutating func renew(owner: String, taskIDs: [Int64], until: Int64) {
            for id in taskIDs {
                guard var entry = entries[id], entry.leaseOwner == owner else { continue }
                entry.leaseExpiresAt = max(entry.leaseExpiresAt ?? 0, until)
                entries[id] = entry
            }
        }

        /// Takes the outcomes whose lease is still the caller's (same owner, same attempt) and
        /// holds those tasks so nobody claims them while the outcome is written. A late outcome
        /// (the lease was lost and the task taken again) is left out.
        mutating func hold(_ outcomes: [TaskOutcome]) -> [(Entry, TaskOutcome)] {
            outcomes.compactMap { outcome in
                guard var entry = entries[outcome.taskID], entry.leaseOwner == outcome.leaseOwner,
                    entry.attempt == outcome.attempt
                else { return nil }
                entry.leaseExpiresAt = .max
                entries[entry.id] = entry
                return (entry, outcome)
            }
        }

        /// Held tasks whose outcome could not be written: claimable again at once.
        mutating func release(_ ids: [Int64]) {
            for id in ids { entries[id]?.leaseExpiresAt = 0 }
        }

        /// A held task's outcome was written: it leaves the book. Returns nil when it was no
        /// longer there (its partition was revoked meanwhile), else whether it was its
        /// partition's head.
        mutating func finished(_ id: Int64) -> (entry: Entry, wasHead: Bool)? {
            guard let entry = entries.removeValue(forKey: id) else { return nil }
            return (entry, recovering[entry.key]?.head == entry.offset)
        }

        /// The offset past a partition's head is committed: its recovery is over, and its other
        /// tasks run as usual.
        mutating func headCommitted(_ key: Key, offset: Int64) {
            if recovering[key]?.head == offset { recovering[key] = nil }
        }
    }
#endif
