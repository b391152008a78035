import MetropulseCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which addresses a feed request may reach. A source that has not allowed private addresses
/// may not reach loopback, RFC 1918 and unique-local networks, link-local addresses (where cloud
/// metadata services answer), carrier-grade NAT, multicast or reserved ranges, whether its URL
/// names them, its host name resolves to them, or a redirect leads there.
///
/// The host is resolved here before the request; the HTTP client resolves it again to connect,
/// so a host whose DNS answer changes between the two (DNS rebinding) is not fully covered.
enum AddressPolicy {
    /// Why `host` may not be reached, or nil when it may. Resolution failures are left to the
    /// request itself, which reports them as `dns` errors.
    static func refusal(host: String) async -> String? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.isEmpty { return nil }
        if let literal = literalAddress(bare) {
            return isForbidden(literal) ? "\(bare) is a loopback, private, link-local or reserved address" : nil
        }
        if bare.lowercased() == "localhost" || bare.lowercased().hasSuffix(".localhost") {
            return "\(bare) names this machine"
        }
        let now = ContinuousClock.now
        if let cached = verdicts.withLock({ $0[bare] }), cached.until > now { return cached.refusal }
        let addresses = (try? await resolve(bare)) ?? []
        let refusal = addresses.first(where: isForbidden).map {
            "\(bare) resolves to \(describe($0)), a loopback, private, link-local or reserved address"
        }
        // A source read in pages asks for one host many times a run: resolve it once a minute.
        verdicts.withLock { verdicts in
            if verdicts.count >= 1_024 { verdicts.removeAll() }
            verdicts[bare] = (refusal, now + .seconds(60))
        }
        return refusal
    }

    /// The last verdict per host name, until it expires.
    private static let verdicts = Mutex<[String: (refusal: String?, until: ContinuousClock.Instant)]>([:])

    /// An address as its family and bytes (4 for IPv4, 16 for IPv6).
    struct Address: Hashable {
        var bytes: [UInt8]
    }

    static func literalAddress(_ text: String) -> Address? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return Address(bytes: withUnsafeBytes(of: &v4) { Array($0) })
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return Address(bytes: withUnsafeBytes(of: &v6) { Array($0) })
        }
        return nil
    }

    static func isForbidden(_ address: Address) -> Bool {
        let b = address.bytes
        if b.count == 4 { return isForbiddenV4(b) }
        guard b.count == 16 else { return true }
        // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) reach an IPv4 address.
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return isForbiddenV4(Array(b[12...])) }
        if b[0] == 0x00, b[1] == 0x64, b[2] == 0xFF, b[3] == 0x9B, b[4..<12].allSatisfy({ $0 == 0 }) {
            return isForbiddenV4(Array(b[12...]))
        }
        if b[0..<15].allSatisfy({ $0 == 0 }) && (b[15] == 0 || b[15] == 1) { return true }  // :: and ::1
        if b[0] & 0xFE == 0xFC { return true }  // fc00::/7 unique local
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return true }  // fe80::/10 link-local
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return true }  // fec0::/10 site-local (deprecated)
        if b[0] == 0xFF { return true }  // multicast
        return false
    }

    private static func isForbiddenV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return true
        case (169, 254): return true  // link-local, cloud metadata (169.254.169.254)
        case (172, 16...31): return true
        case (192, 168): return true
        case (100, 64...127): return true  // carrier-grade NAT
        case (198, 18...19): return true  // benchmarking
        case (192, 0) where b[2] == 0: return true  // IETF protocol assignments
        case (224...255, _): return true  // multicast, reserved, broadcast
        default: return false
        }
    }

    private static func describe(_ address: Address) -> String {
        var bytes = address.bytes
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeMutableBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every address `host` resolves to (getaddrinfo, on NIO's blocking-work thread pool).
    private static func resolve(_ host: String) async throws -> [Address] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [Address] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor, addresses.count < 64 {
                if let socket = info.pointee.ai_addr {
                    if info.pointee.ai_family == AF_INET {
                        socket.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                            var address = $0.pointee.sin_addr
                            addresses.append(Address(bytes: withUnsafeBytes(of: &address) { Array($0) }))
                        }
                    } else if info.pointee.ai_family == AF_INET6 {
                        socket.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                            var address = $0.pointee.sin6_addr
                            addresses.append(Address(bytes: withUnsafeBytes(of: &address) { Array($0) }))
                        }
                    }
                }
                cursor = info.pointee.ai_next
            }
            return addresses
        }
    }
}
