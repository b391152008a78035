import MetropulseConnectors

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libFuzzer's entry points for the feed readers (`FeedReaders`), built only by `scripts/fuzz`
/// (with `-sanitize=fuzzer,address`) into a library that libFuzzer's own `main` drives. The
/// reader is chosen by `METROPULSE_FUZZ_TARGET`.
private let targetName: String = getenv("METROPULSE_FUZZ_TARGET").map { String(cString: $0) } ?? ""

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
    _ argc: UnsafeMutablePointer<CInt>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> CInt {
    guard FeedReaders.all.contains(where: { $0.name == targetName }) else {
        let names = FeedReaders.all.map(\.name).joined(separator: ", ")
        let message = "METROPULSE_FUZZ_TARGET must name a reader: \(names)\n"
        _ = message.withCString { write(2, $0, strlen($0)) }
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? FeedReaders.run(targetName, bytes)
    return 0
}
