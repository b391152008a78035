import Foundation

/// Finds the shared feed captures: `METROPULSE_FIXTURES`, else a `shared/fixtures` folder next to
/// the working directory or one of its parents.
public enum FixtureLocator {
    public static func directory(environment: [String: String] = [:]) -> String? {
        let variables = environment.isEmpty ? ProcessInfo.processInfo.environment : environment
        if let explicit = variables["METROPULSE_FIXTURES"], FileManager.default.fileExists(atPath: explicit) {
            return explicit
        }
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            for candidate in ["shared/fixtures", "../shared/fixtures"] {
                let path = folder.appendingPathComponent(candidate).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: path + "/SOURCES.md") { return path }
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }
}
