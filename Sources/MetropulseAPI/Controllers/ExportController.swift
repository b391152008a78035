import Hummingbird
import Logging
import MetropulseCore
import NIOCore

/// `/api/export/{dataset}`: a dataset as CSV or NDJSON, streamed a page at a time (`Exporter`),
/// so an export of any size holds one page in memory.
struct ExportController {
    let environment: APIEnvironment

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.requiring(.read, environment).get("export/{dataset}", use: export)
    }

    @Sendable func export(_ request: Request, context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("dataset")
        guard let dataset = ExportDataset(rawValue: name) else {
            let names = ExportDataset.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.notFound, message: "no dataset '\(name)'; the datasets are \(names)")
        }
        let format = try request.enumQuery("format", as: ExportFormat.self) ?? .csv
        let source = request.query("source")
        if let source, environment.catalog.source(id: source) == nil {
            throw HTTPError(.notFound, message: "source '\(source)' is not in the catalogue")
        }
        let filter = ExportFilter(
            sourceID: source, since: try request.timeQuery("since"), until: try request.timeQuery("until"))
        if let since = filter.since, let until = filter.until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        let exporter = Exporter(store: environment.store)
        let logger = environment.logger
        var headers = HTTPFields()
        headers[.contentType] = format.contentType
        headers[.contentDisposition] = "attachment; filename=\"\(dataset.rawValue).\(format.rawValue)\""
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                let columns = dataset.header
                let header = format.header(columns)
                if !header.isEmpty { try await writer.write(ByteBuffer(string: header)) }
                var bytes: [UInt8] = []
                do {
                    try await exporter.export(dataset, filter: filter) { rows in
                        bytes.removeAll(keepingCapacity: true)
                        format.encode(rows, columns: columns, into: &bytes)
                        try await writer.write(ByteBuffer(bytes: bytes))
                    }
                } catch {
                    // The status is sent: the export ends early, and the log says why.
                    logger.error(
                        "export ended early", metadata: ["dataset": "\(dataset.rawValue)", "error": "\(error)"])
                    throw error
                }
                try await writer.finish(nil)
            })
    }
}
