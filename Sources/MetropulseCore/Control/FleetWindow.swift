import Synchronization

/// The last few minutes of fleet samples in this process, for `FleetHealthRules`: a sample is
/// kept at most every `spacingMillis`, and samples older than `spanMillis` are dropped.
public final class FleetWindow: Sendable {
    private let samples = Mutex<[FleetSample]>([])
    public let spanMillis: Int64
    public let spacingMillis: Int64

    public init(spanMillis: Int64 = 120_000, spacingMillis: Int64 = 2_000) {
        self.spanMillis = spanMillis
        self.spacingMillis = spacingMillis
    }

    /// Adds `sample` unless the last one is more recent than the spacing; returns the window.
    @discardableResult
    public func observe(_ sample: FleetSample) -> [FleetSample] {
        samples.withLock { samples in
            guard keeps(sample.at, after: samples.last) else { return samples }
            samples.removeAll { $0.at < sample.at - spanMillis || $0.at > sample.at }
            samples.append(sample)
            return samples
        }
    }

    public var current: [FleetSample] { samples.withLock { $0 } }

    /// Whether a sample taken at `at` would be kept (the last one is at least the spacing old).
    public func wantsSample(at: Int64) -> Bool {
        samples.withLock { keeps(at, after: $0.last) }
    }

    /// A sample at `at` is kept when the last is at least the spacing older (or the clock went back).
    private func keeps(_ at: Int64, after last: FleetSample?) -> Bool {
        guard let last else { return true }
        return at - last.at >= spacingMillis || at < last.at
    }
}
