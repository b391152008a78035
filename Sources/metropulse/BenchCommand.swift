import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseSQLite

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print a ratio against a baseline run alongside.",
        subcommands: [Ingest.self])

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the Vélib' capture through parse → normalize → SQLite raw + latest.")

        @Option(help: "Number of successive snapshots to replay.")
        var snapshots = 40

        @Option(help: "Folder of feed captures (default: METROPULSE_FIXTURES or ../shared/fixtures).")
        var fixtures: String?

        @Option(help: "SQLite synchronous mode for both the pipeline and the baseline: full or normal.")
        var synchronous = "full"

        @Option(help: "Where to create the throwaway databases.")
        var directory = FileManager.default.temporaryDirectory.path

        func run() async throws {
            guard let root = fixtures ?? FixtureLocator.directory() else {
                throw ValidationError("feed captures not found: pass --fixtures or set METROPULSE_FIXTURES")
            }
            let folder = root + "/gbfs/velib-paris-2025-10"
            let benchmark = IngestBenchmark(
                statusPath: folder + "/station_status.json", informationPath: folder + "/station_information.json",
                snapshots: max(1, snapshots), directory: directory,
                synchronous: synchronous.lowercased() == "normal" ? .normal : .full)
            print(try await benchmark.run())
        }
    }
}
