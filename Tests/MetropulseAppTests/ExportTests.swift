import AsyncHTTPClient
import Foundation
import MetropulseCore
import MetropulseSQLite
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Exports of a million rows: streamed by the API in constant memory (the process's peak RSS),
/// and by `metropulse export` from the command line.
@Suite("Exports of a million rows")
struct ExportTests {
    /// The peak resident set of a process (`VmHWM`), in bytes.
    static func peakRSS(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    @Test("GET /api/export streams a million station observations without the process growing; the CLI exports")
    func millionRows() async throws {
        let folder = try temporaryFolder()
        let path = folder + "/m.sqlite"
        let store = try SQLiteBackend(path: path)
        let start: Int64 = 1_767_571_200_000
        let (stations, fetches) = (1_000, 1_000)
        var batch: [RunResult] = []
        for fetch in 0..<fetches {
            let at = start + Int64(fetch) * 60_000
            let observations = (0..<stations).map { i in
                StationObservation(
                    sourceID: "paris", stationID: "station-\(i)", capacity: 30, bikesAvailable: (i + fetch) % 30,
                    docksAvailable: 30 - (i + fetch) % 30, isInstalled: true, isRenting: true, isReturning: true,
                    observedAt: at)
            }
            batch.append(
                RunResult(
                    run: TaskRun(
                        id: "run-\(fetch)", jobID: "run-\(fetch)", taskID: nil, sourceID: "paris", attempt: 1,
                        workerID: "w", status: .succeeded, startedAt: at, finishedAt: at + 100,
                        entityCount: stations),
                    observations: ObservationBatch(stations: observations), outcome: nil))
            if batch.count == 50 {
                try await store.write(batch)
                batch.removeAll()
            }
        }
        try store.close()

        let api = try ChildProcess(arguments: ["api", "--port", "0", "--database-path", path])
        defer { if api.process.isRunning { api.process.terminate() } }
        let port = try await api.apiPort()
        let before = try Self.peakRSS(api.process.processIdentifier)
        let response = try await HTTPClient.shared.execute(
            keyed("http://127.0.0.1:\(port)/api/export/station_observations?format=csv", testAdminKey),
            timeout: .seconds(600))
        #expect(response.status.code == 200)
        #expect(response.headers.first(name: "content-type")?.hasPrefix("text/csv") == true)
        var lines = 0
        var bytes = 0
        var head: [UInt8] = []
        for try await chunk in response.body {
            bytes += chunk.readableBytes
            if head.count < 200 { head += chunk.readableBytesView.prefix(200 - head.count) }
            lines += chunk.readableBytesView.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
        let after = try Self.peakRSS(api.process.processIdentifier)
        #expect(lines == stations * fetches + 1, "a header row and a million rows")
        #expect(String(decoding: head, as: UTF8.self).hasPrefix("source,station_id,observed_at,fetched_at,bikes,"))
        // The body is tens of megabytes; streamed, the server's peak grows by a few pages at most.
        let growth = after - before
        print(
            "export of \(lines - 1) rows (\(bytes >> 20) MiB): the API's peak RSS went from \(before >> 20) MiB to \(after >> 20) MiB"
        )
        #expect(growth < 48 << 20, "peak RSS grew by \(growth >> 20) MiB for a \(bytes >> 20) MiB export")
        _ = await api.stop()

        // The command line: a window of it, to a file.
        let output = folder + "/hour.ndjson"
        let child = try ChildProcess(arguments: [
            "export", "station_observations", "--database-path", path, "--format", "ndjson", "--since",
            Timestamp.iso8601(start + 10 * 60_000), "--until", Timestamp.iso8601(start + 20 * 60_000), "-o", output,
        ])
        #expect(await child.exitStatus(within: .seconds(120)) == 0)
        #expect(child.output.withLock { $0 }.contains("exported 10000 rows of station_observations to \(output)"))
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let rows = text.split(separator: "\n")
        #expect(rows.count == 10_000)
        let first = try JSONSerialization.jsonObject(with: Data(rows[0].utf8)) as? [String: Any]
        #expect(first?["observed_at"] as? String == Timestamp.iso8601(start + 10 * 60_000))
        let refused = try ChildProcess(arguments: ["export", "nothing", "--database-path", path])
        #expect(await refused.exitStatus(within: .seconds(60)) != 0)
        #expect(refused.output.withLock { $0 }.contains("unknown dataset 'nothing'"))
    }
}
