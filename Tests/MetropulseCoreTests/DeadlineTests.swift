import MetropulseCore
import Testing

@Suite("Deadline")
struct DeadlineTests {
    @Test("an operation that answers in time returns its value")
    func inTime() async throws {
        #expect(try await withDeadline(.seconds(5)) { 42 } == 42)
    }

    @Test("an operation that ignores cancellation is abandoned at the deadline")
    func abandoned() async throws {
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(50)) {
                // Ignores cancellation, like a call stuck on a dead connection.
                for _ in 0..<20 { try? await Task.sleep(for: .milliseconds(50)) }
                return 1
            }
        }
    }
}
