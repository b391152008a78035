import Foundation
import Logging
import Testing

@testable import MetropulseCore

@Suite("The central log's buffer")
struct LogBufferTests {
    func enabled(capacity: Int, level: Logger.Level = .info) -> LogBuffer {
        let buffer = LogBuffer(capacity: capacity)
        buffer.configure(enabled: true, minimumLevel: level, capacity: capacity, service: "worker", instance: "h-1")
        return buffer
    }

    @Test("off by default: a process that did not turn it on keeps nothing")
    func offByDefault() {
        let buffer = LogBuffer()
        buffer.append(at: 1, level: .error, logger: "metropulse", message: "x", metadata: [:])
        #expect(buffer.count == 0 && buffer.dropped == 0)
    }

    @Test("keeps lines at its level and above, in order, stamped with the process's role")
    func levelsAndOrder() {
        let buffer = enabled(capacity: 100, level: .notice)
        for (i, level) in Logger.Level.allCases.enumerated() {
            buffer.append(
                at: Int64(i), level: level, logger: "metropulse", message: "\(level)", metadata: ["i": "\(i)"])
        }
        let lines = buffer.take(max: 100)
        #expect(lines.map(\.message) == ["notice", "warning", "error", "critical"])
        #expect(lines.allSatisfy { $0.service == "worker" && $0.instance == "h-1" })
        #expect(buffer.take().isEmpty)
    }

    @Test("full: the caller never waits, the newest lines are dropped and counted")
    func bounded() {
        let buffer = enabled(capacity: 10)
        for i in 0..<25 { buffer.append(at: Int64(i), level: .info, logger: "m", message: "\(i)", metadata: [:]) }
        #expect(buffer.count == 10)
        #expect(buffer.dropped == 15)
        #expect(buffer.take(max: 4).map(\.message) == ["0", "1", "2", "3"])
        buffer.append(at: 99, level: .info, logger: "m", message: "later", metadata: [:])
        #expect(buffer.take(max: 100).map(\.message) == ["4", "5", "6", "7", "8", "9", "later"])
    }

    @Test("the shipper's own lines stay out, and a huge line is cut")
    func excludedAndClipped() throws {
        let buffer = enabled(capacity: 10)
        buffer.append(at: 1, level: .error, logger: LogShipper.label, message: "cannot write", metadata: [:])
        let huge = String(repeating: "é", count: 20_000)
        var metadata: [String: String] = [:]
        for i in 0..<100 { metadata["k\(i)"] = huge }
        buffer.append(at: 2, level: .info, logger: "m", message: huge, metadata: metadata)
        let lines = buffer.take()
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.message.utf8.count <= LogBuffer.maxMessage && line.message.hasSuffix("…"))
        #expect(line.metadata.count == LogBuffer.maxValues)
        #expect(line.metadata.values.allSatisfy { $0.utf8.count <= LogBuffer.maxValue })
    }

    @Test("search words: letters and digits, lowercased, never query syntax")
    func terms() {
        #expect(
            LogQuery.terms("Fetch FAILED: velib-paris (HTTP 503)") == [
                "fetch", "failed", "velib", "paris", "http", "503",
            ])
        #expect(LogQuery.terms("\" OR * :* & | ! ( )") == ["or"])
        #expect(LogQuery.terms("!!! *** \"\"").isEmpty)
        #expect(LogQuery.terms(String(repeating: "a b ", count: 100)) == ["a", "b"])
        #expect(LogQuery.terms((0..<40).map { "w\($0)" }.joined(separator: " ")).count == 16)
    }

    @Test("JSON lines: one object a line, every character escaped, the fields never shadowed")
    func jsonLines() throws {
        let line = JSONLogHandler.line(
            at: 1_000, level: .warning, service: "worker", logger: "metropulse",
            message: "fetch \"failed\"\nnext line\u{1}\\ é",
            metadata: ["source": "velib", "level": "shadow", "url": "https://a/b"])
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(
            object == [
                "time": "1970-01-01T00:00:01.000Z", "level": "warning", "service": "worker", "logger": "metropulse",
                "message": "fetch \"failed\"\nnext line\u{1}\\ é", "source": "velib", "url": "https://a/b",
            ])
    }
}
