import Logging
import MetropulseCore

/// A process part's answer to a control command, for its worker (best effort: a lost answer
/// shows the worker as not having answered).
enum CommandAnswer {
    static func send(
        _ command: ControlCommand, as workerID: String?, to commandLog: (any CommandLog)?, ok: Bool, result: String,
        clock: WallClock, logger: Logger
    ) async {
        guard let workerID, let commandLog, command.applies(to: workerID) else { return }
        do {
            try await commandLog.acknowledge(
                CommandAck(commandID: command.id, workerID: workerID, at: clock.nowMillis, ok: ok, result: result))
        } catch {
            logger.error(
                "command acknowledgement not written", metadata: ["id": "\(command.id)", "error": "\(loggable(error))"])
        }
    }
}
