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
        let fd = try connection(port: port, receiveBuffer: 4096)
        try ask(fd, path)
        return fd
    }

    /// A connection to the API (with this receive buffer), reads timing out after a second.
    static func connection(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
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
        return fd
    }

    /// Sends `GET path` on the connection.
    static func ask(_ fd: Int32, _ path: String) throws {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        try #require(send(fd, request, request.count, 0) == request.count)
    }

    /// Reads the connection until what was read holds `text` (then true) or 20 s have passed.
    static func read(_ fd: Int32, until text: String) -> Bool {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + .seconds(20)
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { return false }
            if count > 0 {
                received += chunk[..<count]
                if String(decoding: received, as: UTF8.self).contains(text) { return true }
            }
        }
        return false
    }

    /// Reads a stream's answer from the start (head, then chunks of events), keeping each
    /// station's bikes as the events say, until `enough` holds or 30 s have passed; returns them.
    static func drain(_ fd: Int32, until enough: ([String: Int]) -> Bool) -> [String: Int] {
        var raw: [UInt8] = []
        var headDone = false
        var text = ""
        var bikes: [String: Int] = [:]
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { break }
            guard count > 0 else { continue }
            raw += chunk[..<count]
            if !headDone {
                let blank: [UInt8] = [13, 10, 13, 10]
                guard let end = raw.indices.dropLast(3).first(where: { raw[$0..<$0 + 4].elementsEqual(blank) })
                else { continue }
                raw.removeFirst(end + 4)
                headDone = true
            }
            // Whole chunks: a hex length, CRLF, the bytes, CRLF.
            while let line = raw.indices.dropLast().first(where: { raw[$0] == 13 && raw[$0 + 1] == 10 }),
                let size = Int(String(decoding: raw[..<line], as: UTF8.self), radix: 16),
                raw.count >= line + 2 + size + 2
            {
                text += String(decoding: raw[(line + 2)..<(line + 2 + size)], as: UTF8.self)
                raw.removeFirst(line + 2 + size + 2)
            }
            while let end = text.range(of: "\n\n") {
                for line in text[..<end.lowerBound].split(separator: "\n") where line.hasPrefix("data: ") {
                    let event = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
                    for station in event?["stations"] as? [[String: Any]] ?? [] {
                        if let id = station["id"] as? String, let count = station["bikes"] as? Int { bikes[id] = count }
                    }
                }
                text = String(text[end.upperBound...])
            }
            if enough(bikes) { break }
        }
        return bikes
    }

    /// `metropulse_api_streams_open` in the API's metrics.
    static func streamsOpen(port: Int) async throws -> Double? {
        let metrics = try await getText("http://127.0.0.1:\(port)/metrics")
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("metropulse_api_streams_open ") }
        return line?.split(separator: " ").last.flatMap { Double($0) }
    }

    @Test("a stream asked after another request on its connection is served too; closed streams give their places back")
    func placesAndKeptConnections() async throws {
        let paris = try StationRounds(sourceID: "paris")
        try await paris.write((0..<3).map { ("station-\($0)", $0) })
        let api = try ChildProcess(
            arguments: ["api", "--port", "0", "--database-path", paris.path],
            environment: ["METROPULSE_CONFIG": paris.configPath, "METROPULSE_API_ADMIN_KEY": testAdminKey])
        defer { if api.process.isRunning { api.process.terminate() } }
        let port = try await api.apiPort()
        // The first request of its connection: served from the event loop.
        let first = try Self.connection(port: port)
        try Self.ask(first, "/api/stream?topics=stations")
        #expect(Self.read(first, until: "station-2"))
        // After another answer on the same connection: served by the request's task.
        let kept = try Self.connection(port: port)
        try Self.ask(kept, "/healthz")
        #expect(Self.read(kept, until: "HTTP/1.1 200"))
        try Self.ask(kept, "/api/stream?topics=stations")
        #expect(Self.read(kept, until: "station-2"))
        try await eventually("both streams counted") { try await Self.streamsOpen(port: port) == 2 }
        // Bytes that are not HTTP, before any request: a 400, and the connection closes.
        let garbage = try Self.connection(port: port)
        let bytes: [UInt8] = [0, 1] + Array("garbage\r\n\r\n".utf8)
        try #require(send(garbage, bytes, bytes.count, 0) == bytes.count)
        #expect(Self.read(garbage, until: "HTTP/1.1 400 Bad Request"))
        close(garbage)
        // Both see the next change.
        try await paris.write([("station-1", 29)])
        #expect(Self.read(first, until: "\"bikes\":29"))
        #expect(Self.read(kept, until: "\"bikes\":29"))
        close(first)
        close(kept)
        // The event loop sees the close at once; a request's task when its next write fails
        // (there are changes to send).
        var bikes = 0
        try await eventually("the places given back") {
            bikes = (bikes + 1) % 29
            try await paris.write([("station-1", bikes)])
            return try await Self.streamsOpen(port: port) == 0
        }
        #expect(await api.stop() == 0)
        try paris.store.close()
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
            environment: ["METROPULSE_CONFIG": paris.configPath, "METROPULSE_API_ADMIN_KEY": testAdminKey])
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
        // A stalled subscriber that reads again catches up: what it ends with is the latest round
        // (it was sent the net changes, not the rounds it missed).
        let latest = Dictionary(uniqueKeysWithValues: (0..<stations).map { ("station-\($0)", ($0 + round) % 30) })
        let caughtUp = Self.drain(sockets[0]) { $0 == latest }
        #expect(caughtUp == latest, "a stalled subscriber reading again did not reach the latest round")
        // A subscriber that reads is still served.
        let events = try await readEvents("http://127.0.0.1:\(port)/api/stream?topics=stations", timeout: .seconds(20))
        {
            $0.contains { ($0["stations"] as? [Any])?.count == stations }
        }
        #expect(events.contains { ($0["stations"] as? [Any])?.count == stations })
        // What the stalled subscribers were not sent is counted.
        let metrics = try await getText("http://127.0.0.1:\(port)/metrics")
        let skipped = metrics.split(separator: "\n").first {
            $0.hasPrefix("metropulse_api_stream_events_skipped_total ")
        }
        #expect((skipped?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 50, "\(skipped ?? "no counter")")
        // Shutdown does not wait on the stalled streams for ever.
        #expect(await api.stop() == 0)
        try paris.store.close()
    }
}
