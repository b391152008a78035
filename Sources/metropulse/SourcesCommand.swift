import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore

struct SourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources", abstract: "Work with source catalogues.", subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration file; print each problem with its line and key.")

        @Argument(help: "The YAML file to check.")
        var file: String

        func run() async throws {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read \(file)")
            }
            let (configuration, errors) = ConfigurationLoader.validate(yaml: text)
            guard errors.isEmpty else {
                for error in errors {
                    print("\(file):\(error.line.map(String.init) ?? "-"): \(error.key): \(error.message)")
                }
                throw ExitCode(1)
            }
            print("\(file): OK, \(configuration.sources.count) sources")
            for source in configuration.sources {
                print(
                    "  \(source.id) (\(source.kind.rawValue)) every \(source.intervalMillis / 1000)s: \(source.urls.joined(separator: " | "))"
                )
            }
        }
    }
}
