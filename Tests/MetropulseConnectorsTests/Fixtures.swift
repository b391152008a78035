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
}
