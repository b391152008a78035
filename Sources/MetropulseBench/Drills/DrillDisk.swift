import Foundation

/// A small file system of the drill's own (tmpfs) for the SQLite file, filled and freed on cue.
struct DrillDisk: Sendable {
    let path: String
    var ballast: String { path + "/ballast" }

    /// Mounts a `megabytes` tmpfs at `path` (needs root, or the mount capability).
    static func mount(at path: String, megabytes: Int) throws -> DrillDisk {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        return DrillDisk(path: path)
    }

    /// Writes a ballast file until the file system is full; returns its size in bytes.
    func fill() throws -> Int {
        FileManager.default.createFile(atPath: ballast, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: ballast) else {
            throw DrillFailure("cannot write the ballast file \(ballast)")
        }
        defer { try? handle.close() }
        var written = 0
        for chunk in [1 << 20, 1 << 12] {
            let data = Data(repeating: 0x5A, count: chunk)
            while (try? handle.write(contentsOf: data)) != nil { written += chunk }
        }
        return written
    }

    func free() throws { try FileManager.default.removeItem(atPath: ballast) }

    func unmount() throws { try Self.run("/bin/umount", ["-l", path]) }

    private static func run(_ command: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw DrillFailure(
                "\(command) \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)): "
                    + "\(message.trimmingCharacters(in: .whitespacesAndNewlines)); the disk-full drill needs root")
        }
    }
}
