import Foundation

/// Finds the shared feed captures: `METROPULSE_FIXTURES`, else a `shared/fixtures` folder beside
/// `start` (the working directory by default) or one of its parents.
public enum FixtureLocator {
    public static func directory(from start: String? = nil) -> String? {
        if let explicit = ProcessInfo.processInfo.environment["METROPULSE_FIXTURES"],
            FileManager.default.fileExists(atPath: explicit)
        {
            return explicit
        }
        var folder = URL(fileURLWithPath: start ?? FileManager.default.currentDirectoryPath)
        for _ in 0..<8 {
            for candidate in ["shared/fixtures", "../shared/fixtures"] {
                let path = folder.appendingPathComponent(candidate).standardizedFileURL.path
                if FileManager.default.fileExists(atPath: path + "/SOURCES.md") { return path }
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }
}
