import MetropulseCore
import Testing

@Suite("Redaction")
struct RedactionTests {
    @Test("URL passwords, key-bearing parameters and registered secrets become ***")
    func redacts() {
        #expect(
            Redaction.text("connect to postgres://app:hunter22@db.internal:5432/city failed")
                == "connect to postgres://app:***@db.internal:5432/city failed")
        #expect(
            Redaction.text("GET https://api.example.org/v1?api_key=abc123&city=paris answered 500")
                == "GET https://api.example.org/v1?api_key=***&city=paris answered 500")
        #expect(Redaction.text("https://x.org/r.json?$$app_token=T0KEN") == "https://x.org/r.json?$$app_token=***")
        #expect(Redaction.text("https://x.org/a?keyword=bikes") == "https://x.org/a?keyword=bikes")
        Redaction.register("prim-secret-value")
        #expect(Redaction.text("header apikey: prim-secret-value refused") == "header apikey: *** refused")
        Redaction.register("abc")  // too short to redact safely: ignored
        #expect(Redaction.text("abc") == "abc")
        #expect(Redaction.text("no secrets here") == "no secrets here")
    }
}
