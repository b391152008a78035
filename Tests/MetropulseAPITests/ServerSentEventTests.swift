import Foundation
import NIOCore
import Testing

@testable import MetropulseAPI

@Suite("Server-sent events as the event-stream format writes them")
struct ServerSentEventTests {
    @Test("id, event and data each on their line, the event ended by a blank line")
    func fields() {
        let event = ServerSentEvent(id: "42", event: "update", data: #"{"a":1}"#)
        #expect(event.text == "id: 42\nevent: update\ndata: {\"a\":1}\n\n")
        #expect(ServerSentEvent(data: "x", retryMillis: 3000).text == "retry: 3000\ndata: x\n\n")
        #expect(String(buffer: ServerSentEvent.retry(3000)) == "retry: 3000\n\n")
    }

    @Test("data holding line breaks (LF, CRLF, CR) is sent as several data lines, never ending the event early")
    func multiLineData() {
        let event = ServerSentEvent(event: "note", data: "one\ntwo\r\nthree\rfour\n\nevent: forged")
        #expect(
            event.text
                == "event: note\ndata: one\ndata: two\ndata: three\ndata: four\ndata: \ndata: event: forged\n\n")
        #expect(ServerSentEvent.lines("") == [""])
        #expect(ServerSentEvent.lines("a\r\n") == ["a", ""])
    }

    @Test("a line break in id or event cannot forge a field; NUL is dropped from them")
    func oneLineFields() {
        let event = ServerSentEvent(id: "1\ndata: x", event: "a\r\nb\0", data: "y")
        #expect(event.text == "id: 1 data: x\nevent: a  b\ndata: y\n\n")
    }

    @Test("JSON data comes from the API's encoder: one line, slashes not escaped")
    func json() throws {
        struct Payload: Encodable { var url = "http://127.0.0.1/x"; var text = "two\nlines" }
        let event = try ServerSentEvent(id: "7", event: "snapshot", json: Payload())
        #expect(
            event.text == "id: 7\nevent: snapshot\ndata: {\"text\":\"two\\nlines\",\"url\":\"http://127.0.0.1/x\"}\n\n")
    }

    @Test("comments, one per line, which clients ignore")
    func comments() {
        #expect(String(buffer: ServerSentEvent.comment("keep-alive")) == ": keep-alive\n\n")
        #expect(String(buffer: ServerSentEvent.comment("a\nb")) == ": a\n: b\n\n")
    }
}
