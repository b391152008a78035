#if Kafka
    import Testing

    @testable import MetropulseKafka

    /// The Kafka queue's state as values, without a broker: commit points, start marks, the
    /// recovery of a partition's first task.
    @Suite("Kafka queue values")
    struct HeadRecoveryTests {
        @Test("the commit point is the first task not finished, else past the last message read")
        func commitPoints() {
            var points = CommitPoints<String>()
            #expect(points.point("p") == nil)
            points.read("p", offset: 10, pending: true)
            points.read("p", offset: 11, pending: false)  // skipped: already done, or not a task
            points.read("p", offset: 12, pending: true)
            #expect(points.point("p") == 10)
            // Finished out of order: the commit waits for the task before it.
            points.finished("p", offset: 12)
            #expect(points.point("p") == 10)
            points.finished("p", offset: 10)
            #expect(points.point("p") == 13)
            #expect(points.lastReadOffset("p") == 12)
            points.reset("p")
            #expect(points.point("p") == nil && points.lastReadOffset("p") == nil)
        }

        @Test("a start mark survives its encoding as a committed position")
        func markEncoding() throws {
            let mark = StartMark(offset: 123_456_789, starts: 3)
            #expect(StartMark(position: mark.position) == mark)
            #expect(StartMark(position: -1001) == nil)
            #expect(StartMark(offset: 1, starts: 1_000).starts == StartMark.maxStarts)
            #expect(StartMark(offset: 0, starts: 0).position == 0)
        }

        @Test("the first task read since the assignment starts first; it inherits the lost starts and runs alone")
        func onlyTheHead() {
            var recovery = HeadRecovery(inherited: StartMark(offset: 7, starts: 2))
            #expect(!recovery.mayClaim(offset: 7))
            #expect(recovery.read(offset: 7) == 2)
            #expect(recovery.read(offset: 8) == 0)
            #expect(recovery.mayClaim(offset: 7) && !recovery.mayClaim(offset: 8))
            // Produced after one attempt (a retry), started twice before and now a third time.
            #expect(recovery.start(offset: 7, attempt: 4, producedAttempts: 1) == StartMark(offset: 7, starts: 3))
            // A suspect runs alone.
            #expect(!recovery.mayClaim(offset: 8))
        }

        @Test("a head nobody lost starts first, then the partition's other tasks run beside it")
        func innocentHead() {
            var recovery = HeadRecovery(inherited: StartMark(offset: 3, starts: 4))
            // A mark of another offset is stale: the partition moved past it.
            #expect(recovery.read(offset: 9) == 0)
            _ = recovery.read(offset: 10)
            #expect(!recovery.mayClaim(offset: 10))
            #expect(recovery.start(offset: 10, attempt: 1, producedAttempts: 0) == nil)
            #expect(recovery.start(offset: 9, attempt: 1, producedAttempts: 0) == StartMark(offset: 9, starts: 1))
            #expect(recovery.mayClaim(offset: 10))
            recovery.startNotRecorded()
            #expect(!recovery.mayClaim(offset: 10))
        }

    }
#endif
