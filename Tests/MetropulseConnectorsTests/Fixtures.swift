import Foundation
import MetropulseApp

/// The shared feed captures (`METROPULSE_FIXTURES`, or `shared/fixtures` beside a parent of this
/// package).
enum Fixtures {
    struct NotFound: Error, CustomStringConvertible {
        var description: String {
            "feed captures not found: set METROPULSE_FIXTURES to the shared fixtures folder"
        }
    }

    static let root: String? = FixtureLocator.directory(
        from: URL(fileURLWithPath: #filePath).deletingLastPathComponent().path)

    static func bytes(_ relative: String) throws -> [UInt8] {
        guard let root else { throw NotFound() }
        return Array(try Data(contentsOf: URL(fileURLWithPath: root + "/" + relative)))
    }

    static func files(under relative: String) throws -> [String] {
        guard let root else { throw NotFound() }
        let base = root + "/" + relative
        let enumerator = FileManager.default.enumerator(atPath: base)
        var files: [String] = []
        while let next = enumerator?.nextObject() as? String {
            if next.hasSuffix(".json") { files.append(relative + "/" + next) }
        }
        return files.sorted()
    }

    /// The response bodies of a VCR cassette (YAML), in order: a `string: |` literal block, or a
    /// single-quoted `string: '...'` scalar (folded: a line break and the next line's indent read as
    /// one space, `''` as `'`). Enough YAML for the recorders' output, not a YAML parser.
    static func cassetteBodies(_ relative: String) throws -> [[UInt8]] {
        let lines = String(decoding: try bytes(relative), as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false)
        var bodies: [[UInt8]] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            guard let range = line.range(of: "string: ") else {
                index += 1
                continue
            }
            let indent = line.prefix { $0 == " " }.count
            let rest = line[range.upperBound...]
            if rest.hasPrefix("|") {
                var block: [Substring] = []
                index += 1
                while index < lines.count, lines[index].prefix(while: { $0 == " " }).count > indent {
                    block.append(lines[index].drop { $0 == " " })
                    index += 1
                }
                bodies.append(Array(block.joined(separator: "\n").utf8))
            } else if rest.hasPrefix("'") {
                var text = String(rest.dropFirst())
                index += 1
                while true {
                    // The scalar ends at a quote not doubled.
                    let scalar = Array(text)
                    var end: Int?
                    var i = 0
                    while i < scalar.count {
                        if scalar[i] == "'" {
                            if i + 1 < scalar.count, scalar[i + 1] == "'" {
                                i += 2
                                continue
                            }
                            end = i
                            break
                        }
                        i += 1
                    }
                    if let end {
                        text = String(scalar[..<end])
                        break
                    }
                    guard index < lines.count else { break }
                    text += " " + lines[index].drop { $0 == " " }
                    index += 1
                }
                bodies.append(Array(text.replacingOccurrences(of: "''", with: "'").utf8))
            } else {
                index += 1
            }
        }
        return bodies
    }
}
