import Logging
import MetropulseCore
import MetropulseDemo
public import ServiceLifecycle

/// Receives `DEMO_INCIDENT` from the control bus in a process that serves the demo city, so its
/// feeds report the spike, and answers the command for this process's worker.
public struct DemoIncidentListener: Service {
    let bus: any ControlBus
    let incidents: DemoIncidents
    var workerID: String?
    var commandLog: (any CommandLog)?
    let clock: WallClock
    let logger: Logger

    public func run() async throws {
        let commands = try await bus.commands()
        for await command in commands.cancelOnGracefulShutdown() where command.kind == .demoIncident {
            let ok: Bool
            let result: String
            if let incident = command.incident {
                incidents.add(incident)
                (ok, result) = (
                    true,
                    "the demo's \(incident.metric) in zone \(incident.zone) reads \(incident.value) until \(Timestamp.iso8601(incident.until))"
                )
                logger.notice(
                    "demo incident",
                    metadata: [
                        "zone": "\(incident.zone)", "metric": "\(incident.metric)", "value": "\(incident.value)",
                        "until": "\(Timestamp.iso8601(incident.until))",
                    ])
            } else {
                (ok, result) = (false, "the command carries no incident")
            }
            await CommandAnswer.send(
                command, as: workerID, to: commandLog, ok: ok, result: result, clock: clock, logger: logger)
        }
    }
}
