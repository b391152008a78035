import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseConnectors
import MetropulseCore

struct SourcesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources", abstract: "Work with source catalogues.", subcommands: [Validate.self, Kinds.self])

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

    struct Kinds: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the source kinds: what each connector reads, its formats and keys of its own.")

        @Flag(help: "Print the table of docs/configuration.md (Markdown).")
        var markdown = false

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let descriptions = StandardConnectors.descriptions
            if markdown {
                print(descriptions.markdown)
            } else if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(descriptions.all), as: UTF8.self))
            } else {
                for description in descriptions.all {
                    print("\(description.kind.rawValue): \(description.summary)")
                    let produces = description.produces.sorted().map(\.rawValue).joined(separator: ", ")
                    print("  produces: \(produces)")
                    for (index, format) in description.formats.enumerated() {
                        let marker = index == 0 && description.defaultFormatIsNamed ? " (default)" : ""
                        print("  format \(format.name)\(marker): \(format.summary)")
                    }
                    if !description.keys.isEmpty { print("  keys: \(description.keys.joined(separator: ", "))") }
                }
            }
        }
    }
}
