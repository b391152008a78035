#if Kafka
    /// How often the task at one offset of a task partition was started by a member that then lost
    /// the partition before finishing it (its process died, hung past the session timeout or left).
    ///
    /// Kafka redelivers such a task to the next member with the attempt count it was produced with:
    /// a task that crashes every process that runs it would go round the fleet for ever. So the
    /// queue keeps this count in the broker, as the committed position of a group of its own
    /// (`<group>.starts`) on the same topic and partition, which every broker keeps durably: the
    /// position is `offset × 256 + starts`. Nothing consumes with that group.
    struct StartMark: Hashable, Sendable {
        var offset: Int64
        var starts: Int

        static let maxStarts = 255

        init(offset: Int64, starts: Int) {
            self.offset = offset
            self.starts = min(max(starts, 0), Self.maxStarts)
        }

        /// Reads a committed position; nil for none (negative) or one out of range.
        init?(position: Int64) {
            guard position >= 0 else { return nil }
            self.init(offset: position >> 8, starts: Int(position & 0xFF))
        }

        /// Offsets up to 2^55: a partition would need a million messages a second for a thousand
        /// years to pass it.
        var position: Int64 { offset << 8 | Int64(starts) }
    }

    /// One task partition from its assignment until its first task finished.
    ///
    /// The first task read after an assignment (the head) is the group's commit point: it may be
    /// the one a lost member was running. Nothing else of the partition starts before it. Its start
    /// is recorded in the broker before it runs (`StartMark`), and the offset past it is committed
    /// synchronously once it finished. A head that a lost member had started (the mark names its
    /// offset) is a suspect: it runs alone until it finished. Otherwise the partition's other tasks
    /// run beside it as usual.
    ///
    /// So each assignment either moves the partition's commit point forward or counts one more
    /// start of the same head: a task that brings its worker down is dead once its starts reach
    /// its attempts, and the tasks behind it are not blamed.
    struct HeadRecovery: Sendable {
        /// The mark read at assignment (nil when the partition never had one).
        let inherited: StartMark?
        /// The offset of the first task read since the assignment.
        private(set) var head: Int64?
        private(set) var headStarted = false
        /// The head had starts by members that were lost: it runs alone.
        private(set) var suspect = false

        init(inherited: StartMark?) {
            self.inherited = inherited
        }

        /// A task was read at `offset`: returns the starts it already had, when it is the head.
        mutating func read(offset: Int64) -> Int {
            guard head == nil else { return 0 }
            head = offset
            let lost = inherited?.offset == offset ? inherited?.starts ?? 0 : 0
            suspect = lost > 0
            return lost
        }

        /// Whether the task at `offset` may be claimed now (under the usual lease rules).
        func mayClaim(offset: Int64) -> Bool {
            guard let head else { return false }
            return offset == head || (headStarted && !suspect)
        }

        /// The head is claimed for its `attempt`-th attempt (it was produced with
        /// `producedAttempts` made): returns the mark to record before it runs.
        mutating func start(offset: Int64, attempt: Int, producedAttempts: Int) -> StartMark? {
            guard offset == head else { return nil }
            headStarted = true
            return StartMark(offset: offset, starts: attempt - producedAttempts)
        }

        /// The mark could not be recorded: the head has not started.
        mutating func startNotRecorded() {
            headStarted = false
        }
    }
#endif
