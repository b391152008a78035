package import Hummingbird
import Logging
package import MetropulseCore

/// The central log as `/api/system/logs` and the console's logs page show it.
package struct LogBoard: Sendable {
    package let store: any LogStore
    package let buffer: LogBuffer

    package init(store: any LogStore, buffer: LogBuffer = .shared) {
        self.store = store
        self.buffer = buffer
    }

    package struct LogLineDTO: Codable, Sendable {
        package var id: Int64
        package var time: String
        /// The role that logged it: serve, scheduler, worker, api or sink.
        package var service: String
        /// The process: host-pid.
        package var instance: String
        package var level: String
        package var logger: String
        package var message: String
        package var metadata: [String: String]
    }

    package struct LogList: ResponseCodable, Sendable {
        package var count: Int
        package var logs: [LogLineDTO]
        /// Whether this process copies its own lines to the central log (`logging.centralized`).
        package var centralized: Bool
        /// Lines this process dropped since it started because its buffer was full.
        package var droppedByThisProcess: Int
    }

    package func lines(_ query: LogQuery) async throws -> LogList {
        let lines = try await store.logs(query).map { r in
            LogLineDTO(
                id: r.id ?? 0, time: Timestamp.iso8601(r.at), service: r.service, instance: r.instance,
                level: r.level.rawValue, logger: r.logger, message: r.message, metadata: r.metadata)
        }
        return LogList(
            count: lines.count, logs: lines, centralized: buffer.isEnabled, droppedByThisProcess: buffer.dropped)
    }
}
