import Foundation
import MetropulseCore
import MetropulseSQLite
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Subscribers that stop reading: the server keeps the latest state for each, never a backlog.
@Suite("Live streams: stalled readers")
struct StreamBoundTests {
    /// The resident set of a process (`VmRSS`), in bytes.
    static func rss(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    /// A client that asks for the stream and never reads: a 4 KiB receive buffer, nothing taken.
    static func stalledSubscriber(port: Int, path: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(connected == 0)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        try #require(send(fd, request, request.count, 0) == request.count)
        return fd
    }

    @Test("50 subscribers that never read, 1,500 stations changing every half second: the API's memory stays bounded")
    func stalledReaders() async throws {
        let paris = try StationRounds(sourceID: "paris")
        let stations = 1_500
        var round = 0
        func writeRound() async throws {
            round += 1
            try await paris.write((0..<stations).map { ("station-\($0)", ($0 + round) % 30) })
        }
        try await writeRound()
        let api = try ChildProcess(
            arguments: ["api", "--port", "0", "--database-path", paris.path],
            environment: ["METROPULSE_CONFIG": paris.configPath])
        defer { if api.process.isRunning { api.process.terminate() } }
        let port = try await api.apiPort()
        let sockets = try (0..<50).map { _ in
            try Self.stalledSubscriber(port: port, path: "/api/stream?topics=stations")
        }
        defer { for fd in sockets { close(fd) } }
        // Every update holds all 1,500 stations (about 400 KB): unread, 50 subscribers would pile up
        // some 20 MB a round if the server queued them. Each holds at most what its socket and its
        // channel's write buffer take, so the memory rises at first and then stays.
        func rounds(_ count: Int) async throws -> Int {
            for _ in 0..<count {
                try await writeRound()
                try await Task.sleep(for: .milliseconds(500))
            }
            return try Self.rss(api.process.processIdentifier)
        }
        let warm = try await rounds(10)
        let filled = try await rounds(30)
        let later = try await rounds(30)
        print(
            "50 stalled subscribers of 1,500 changing stations: RSS \(warm >> 20) MiB after 10 rounds, \(filled >> 20) MiB after 40, \(later >> 20) MiB after 70"
        )
        // Queued, the last 30 rounds alone would add some 600 MB. How soon the plateau is reached
        // depends on how fast the machine serves the first rounds, so the bound allows the tail of
        // the filling (64 MiB, a tenth of a backlog).
        #expect(later - filled < 64 << 20, "RSS grew by \((later - filled) >> 20) MiB in the last 30 rounds")
        // A subscriber that reads is still served.
        let events = try await readEvents("http://127.0.0.1:\(port)/api/stream?topics=stations", timeout: .seconds(20))
        {
            $0.contains { ($0["stations"] as? [Any])?.count == stations }
        }
        #expect(events.contains { ($0["stations"] as? [Any])?.count == stations })
        // Shutdown does not wait on the stalled streams for ever.
        #expect(await api.stop() == 0)
        try paris.store.close()
    }
}
