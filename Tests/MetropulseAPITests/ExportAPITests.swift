import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import NIOCore
import Testing

@testable import MetropulseAPI

@Suite("The export API, in process")
struct ExportAPITests {
    @Test("a dataset as CSV with its header or as NDJSON; unknown datasets and sources are 404s, bad formats 400s")
    func export() async throws {
        let api = try TestAPI(sources: [
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        defer { api.close() }
        let at = TestAPI.now - 3_600_000
        try await api.store.write([
            RunResult(
                run: TaskRun(
                    id: "r", jobID: "r", taskID: nil, sourceID: "bikes", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: at, finishedAt: at + 10, entityCount: 2),
                observations: ObservationBatch(stations: [
                    StationObservation(
                        sourceID: "bikes", stationID: "a,1", bikesAvailable: 3, docksAvailable: 7, isInstalled: true,
                        isRenting: true, isReturning: true, observedAt: at),
                    StationObservation(
                        sourceID: "bikes", stationID: "b", bikesAvailable: 0, docksAvailable: nil, isInstalled: true,
                        isRenting: false,
                        isReturning: false, observedAt: at),
                ]), outcome: nil)
        ])
        try await api.test { client in
            var headers = HTTPFields()
            headers[.init("X-API-Key")!] = TestAPI.readKey
            try await client.execute(uri: "/api/export/station_observations", method: .get, headers: headers) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(response.headers[.contentDisposition]?.contains("station_observations.csv") == true)
                let lines = String(buffer: response.body).split(separator: "\r\n")
                #expect(lines.first == Substring(ExportDataset.stationObservations.header.joined(separator: ",")))
                #expect(lines.count == 3)
                #expect(lines[1].hasPrefix("bikes,\"a,1\",\(Timestamp.iso8601(at)),"))
            }
            try await client.execute(
                uri: "/api/export/station_observations?format=ndjson&source=bikes&since=\(Timestamp.iso8601(at + 1))",
                method: .get,
                headers: headers
            ) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "application/x-ndjson")
                #expect(response.body.readableBytes == 0)
            }
            let unknown = try await client.get("/api/export/nothing", as: ErrorBody.self, status: .notFound)
            #expect(unknown.error.message.contains("station_hours"))
            let source = try await client.get(
                "/api/export/station_hours?source=nope", as: ErrorBody.self, status: .notFound)
            #expect(source.error.message.contains("nope"))
            let format = try await client.get(
                "/api/export/station_hours?format=xlsx", as: ErrorBody.self, status: .badRequest)
            #expect(format.error.message.contains("format"))
        }
    }
}
