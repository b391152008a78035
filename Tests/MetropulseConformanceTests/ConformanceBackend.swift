import Foundation
import MetropulseCore
import MetropulseSQLite
import Testing

/// One backend under test: a store, a queue and the committer that joins them.
struct ConformanceBackend: Sendable {
    var store: any Store
    var queue: any WorkQueue
    var committer: any RunCommitter
    var cleanup: @Sendable () -> Void
}

/// A way to make a fresh, empty backend. Every conformance test runs against each of these.
struct BackendFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> ConformanceBackend

    var testDescription: String { name }

    static let sqlite = BackendFactory(name: "sqlite") {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mp-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let backend = try SQLiteBackend(path: folder.appendingPathComponent("test.sqlite").path)
        return ConformanceBackend(store: backend, queue: backend, committer: backend) {
            try? backend.close()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// The backends every suite runs against.
    static let all: [BackendFactory] = [.sqlite]
}

func task(_ job: String, source: String = "s", priority: Int = 0, runAt: Int64 = 0, maxAttempts: Int = 3) -> NewTask {
    NewTask(jobID: job, sourceID: source, priority: priority, runAt: runAt, maxAttempts: maxAttempts)
}
