#if Kafka
    import MetropulseCore
    import Testing

    @testable import MetropulseKafka

    /// The Kafka queue's leases as a value, without a broker: claim order, expiry, renewals,
    /// late outcomes, spent tasks and the recovery of a partition's first task.
    @Suite("Kafka queue leases")
    struct LeaseBookTests {
        static func record(_ job: String, priority: Int = 0, runAt: Int64 = 0, maxAttempts: Int = 3, attempts: Int = 0)
            -> TaskRecord
        {
            var record = TaskRecord(
                NewTask(jobID: job, sourceID: "s", priority: priority, runAt: runAt, maxAttempts: maxAttempts),
                enqueuedAt: 0)
            record.attempts = attempts
            return record
        }

        /// A book with partition "p" assigned (no mark) and tasks read at offsets 0, 1, 2, ...
        static func book(_ records: [TaskRecord], key: String = "p") -> LeaseBook<String> {
            var book = LeaseBook<String>()
            book.assigned(key, mark: nil)
            for (offset, record) in records.enumerated() {
                book.read(id: Int64(offset), record: record, topicIndex: 1, key: key, offset: Int64(offset))
            }
            return book
        }

        @Test("a partition's head is claimed first; once it started the others follow, best first")
        func claimOrder() {
            var book = Self.book([
                Self.record("a", runAt: 10), Self.record("b", priority: 1, runAt: 20), Self.record("c", runAt: 5),
                Self.record("later", runAt: 1_000),
            ])
            let first = book.claim(owner: "w1", limit: 10, leaseMillis: 100, now: 50)
            // The head (offset 0) alone would start first; started, the rest come by priority then time.
            #expect(first.tasks.map(\.jobID) == ["b", "c", "a"])
            #expect(first.marks == ["p": StartMark(offset: 0, starts: 1)])
            #expect(first.tasks.allSatisfy { $0.attempt == 1 && $0.leaseOwner == "w1" && $0.leaseExpiresAt == 150 })
            // Nothing more is due; leased tasks are not claimed twice.
            #expect(book.claim(owner: "w2", limit: 10, leaseMillis: 100, now: 60).tasks.isEmpty)
        }

        @Test("the limit holds, and a task whose lease passed is claimed again on its next attempt")
        func expiry() {
            var book = Self.book([Self.record("a"), Self.record("b")])
            #expect(book.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 0).tasks.map(\.jobID) == ["a"])
            #expect(book.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 1).tasks.map(\.jobID) == ["b"])
            let again = book.claim(owner: "w2", limit: 5, leaseMillis: 100, now: 100)
            #expect(again.tasks.map(\.jobID) == ["a"] && again.tasks[0].attempt == 2)
            // "a" is still its partition's unfinished head: each start of it is on record.
            #expect(again.marks == ["p": StartMark(offset: 0, starts: 2)])
        }

        @Test("renewals extend only the owner's leases, never shorten them")
        func renewals() {
            var book = Self.book([Self.record("a")])
            _ = book.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 0)
            book.renew(owner: "w2", taskIDs: [0], until: 500)
            #expect(book.entries[0]?.leaseExpiresAt == 100)
            book.renew(owner: "w1", taskIDs: [0, 99], until: 500)
            #expect(book.entries[0]?.leaseExpiresAt == 500)
            book.renew(owner: "w1", taskIDs: [0], until: 200)
            #expect(book.entries[0]?.leaseExpiresAt == 500)
            #expect(book.claim(owner: "w2", limit: 1, leaseMillis: 100, now: 300).tasks.isEmpty)
        }

        @Test("an outcome is taken only from the lease holder of that attempt; a late one is left out")
        func lateOutcomes() {
            var book = Self.book([Self.record("a")])
            _ = book.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 0)
            _ = book.claim(owner: "w2", limit: 1, leaseMillis: 100, now: 200)  // w1's lease passed
            let late = TaskOutcome(taskID: 0, leaseOwner: "w1", attempt: 1, disposition: .succeeded, finishedAt: 250)
            #expect(book.hold([late]).isEmpty)
            let current = TaskOutcome(taskID: 0, leaseOwner: "w2", attempt: 2, disposition: .succeeded, finishedAt: 250)
            let held = book.hold([current])
            #expect(held.map(\.0.id) == [0])
            // Held while the outcome is written: nobody claims it, however late.
            #expect(book.claim(owner: "w3", limit: 1, leaseMillis: 100, now: 10_000).tasks.isEmpty)
            let done = book.finished(0)
            #expect(done?.wasHead == true && book.count == 0)
            #expect(book.finished(0) == nil)
        }

        @Test("an outcome that could not be written leaves the task claimable at once")
        func release() {
            var book = Self.book([Self.record("a")])
            _ = book.claim(owner: "w1", limit: 1, leaseMillis: 100_000, now: 0)
            _ = book.hold([TaskOutcome(taskID: 0, leaseOwner: "w1", attempt: 1, disposition: .succeeded, finishedAt: 1)]
            )
            book.release([0])
            #expect(book.claim(owner: "w2", limit: 1, leaseMillis: 100, now: 2).tasks.map(\.attempt) == [2])
        }

        @Test("a lease taken on the last attempt makes the task spent: dead when it passes, never claimed again")
        func spent() {
            var book = Self.book([Self.record("a", maxAttempts: 2, attempts: 1)])
            _ = book.claim(owner: "w1", limit: 1, leaseMillis: 100, now: 0)
            #expect(book.spent(now: 99).isEmpty)
            #expect(book.spent(now: 100).map(\.id) == [0])
            #expect(book.claim(owner: "w2", limit: 1, leaseMillis: 100, now: 100).tasks.isEmpty)
        }

        @Test("a suspect head (started by lost members) runs alone, and its lost starts count as attempts")
        func suspectHead() {
            var book = LeaseBook<String>()
            book.assigned("p", mark: StartMark(offset: 7, starts: 1))
            let lost = book.read(id: 7, record: Self.record("head", maxAttempts: 3), topicIndex: 1, key: "p", offset: 7)
            book.read(id: 8, record: Self.record("next"), topicIndex: 1, key: "p", offset: 8)
            #expect(lost == 1)
            let first = book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 0)
            #expect(first.tasks.map(\.jobID) == ["head"] && first.tasks[0].attempt == 2)
            #expect(first.marks == ["p": StartMark(offset: 7, starts: 2)])
            #expect(book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 1).tasks.isEmpty)
            _ = book.hold([TaskOutcome(taskID: 7, leaseOwner: "w1", attempt: 2, disposition: .succeeded, finishedAt: 2)]
            )
            #expect(book.finished(7)?.wasHead == true)
            // Not before the offset past it is committed.
            #expect(book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 3).tasks.isEmpty)
            book.headCommitted("p", offset: 7)
            #expect(book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 4).tasks.map(\.jobID) == ["next"])
        }

        @Test("a head whose lost starts spent its attempts is dead on arrival")
        func deadOnArrival() {
            var book = LeaseBook<String>()
            book.assigned("p", mark: StartMark(offset: 3, starts: 2))
            book.read(
                id: 3, record: Self.record("poison", maxAttempts: 3, attempts: 1), topicIndex: 1, key: "p", offset: 3)
            let spent = book.spent(now: 0)
            #expect(spent.map(\.leaseOwner) == [LeaseBook<String>.lostWorker] && spent[0].attempt == 3)
        }

        @Test("a start mark not recorded gives the partition's tasks back, and the head starts again later")
        func startNotRecorded() {
            var book = Self.book([Self.record("a"), Self.record("b")])
            let claimed = book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 0)
            #expect(claimed.tasks.count == 2)
            let undone = book.startsNotRecorded(["p"], claimed: claimed.tasks, owner: "w1")
            #expect(undone == [0, 1])
            #expect(book.entries.values.allSatisfy { $0.leaseOwner == nil && $0.attempt == 0 })
            let again = book.claim(owner: "w1", limit: 5, leaseMillis: 100, now: 1)
            #expect(again.tasks.map(\.attempt) == [1, 1] && again.marks == ["p": StartMark(offset: 0, starts: 1)])
        }

        @Test("revoked partitions forget their tasks; other partitions keep theirs")
        func revoked() {
            var book = Self.book([Self.record("a")], key: "p")
            book.assigned("q", mark: nil)
            book.read(id: 100, record: Self.record("b"), topicIndex: 1, key: "q", offset: 0)
            book.revoked(["p"])
            #expect(book.entries.keys.sorted() == [100] && book.recovering["p"] == nil)
            #expect(book.hasWaiting(now: 0))
        }
    }
#endif
