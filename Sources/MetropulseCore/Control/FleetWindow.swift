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
            if let last = samples.last, sample.at - last.at < spacingMillis, sample.at >= last.at { return samples }
            samples.removeAll { $0.at < sample.at - spanMillis || $0.at > sample.at }
            samples.append(sample)
            return samples
        }
    }

    public var current: [FleetSample] { samples.withLock { $0 } }
}
