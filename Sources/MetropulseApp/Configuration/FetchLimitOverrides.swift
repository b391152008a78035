import MetropulseCore

/// The fetch limits one source sets in its `fetch:` block; the rest come from the `fetch`
/// section (or its environment variables).
struct FetchLimitOverrides: Sendable, Hashable {
    var maxBodyBytes: Int?
    var maxDecompressedBytes: Int?
    var maxRedirects: Int?
    var maxRetryAfterMillis: Int64?
    var allowPrivateAddresses: Bool?

    func applied(to defaults: FetchLimits) -> FetchLimits {
        var limits = defaults
        if let maxBodyBytes { limits.maxBodyBytes = maxBodyBytes }
        if let maxDecompressedBytes { limits.maxDecompressedBytes = maxDecompressedBytes }
        if let maxRedirects { limits.maxRedirects = maxRedirects }
        if let maxRetryAfterMillis { limits.maxRetryAfterMillis = maxRetryAfterMillis }
        if let allowPrivateAddresses { limits.allowPrivateAddresses = allowPrivateAddresses }
        return limits
    }

    /// The keys of a `fetch` block, the same in the section and in a source.
    static let keys = [
        "max_body_size", "max_decompressed_size", "max_redirects", "max_retry_after", "allow_private_addresses",
    ]

    /// Sets one key from its text.
    mutating func set(_ key: String, _ text: String) throws(ConfigurationLoader.ValueError) {
        switch key {
        case "max_body_size": maxBodyBytes = try ConfigurationLoader.byteSize(text)
        case "max_decompressed_size": maxDecompressedBytes = try ConfigurationLoader.byteSize(text)
        case "max_redirects": maxRedirects = try ConfigurationLoader.int(text, 0...20)
        case "max_retry_after": maxRetryAfterMillis = try ConfigurationLoader.duration(text)
        case "allow_private_addresses": allowPrivateAddresses = try ConfigurationLoader.bool(text)
        default:
            throw ConfigurationLoader.ValueError(
                message: "unknown fetch setting (expected one of \(Self.keys.joined(separator: ", ")))")
        }
    }
}
