#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// CPU time and resident memory of this process, for heartbeats.
public enum ProcessStats {
    public static var pid: Int { Int(getpid()) }

    public static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// User + system CPU seconds.
    public static var cpuSeconds: Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1_000_000
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1_000_000
        return user + system
    }

    /// Resident set size in bytes (Linux `/proc/self/statm`; 0 where unavailable).
    public static var residentBytes: Int64 { residentBytes(of: "self") ?? 0 }

    /// Resident set size of process `pid` (Linux `/proc/PID/statm`), nil where unavailable.
    public static func residentBytes(pid: Int32) -> Int64? { residentBytes(of: "\(pid)") }

    /// User + system CPU seconds of process `pid` (Linux `/proc/PID/stat`), nil where
    /// unavailable: for benchmarks that measure a child.
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = firstLine(of: "/proc/\(pid)/stat"), let end = text.lastIndex(of: ")") else { return nil }
        // After the command name: state (field 3) ... utime (14), stime (15), in clock ticks.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func residentBytes(of process: String) -> Int64? {
        guard let text = firstLine(of: "/proc/\(process)/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func firstLine(of path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 1024)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        return String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
