/// Slot arithmetic for the scheduler: pure functions of time, unit-tested directly.
///
/// Each source's slots are `phase + k * interval`; the phase is derived from the source id so
/// sources with the same interval do not all fire at once. A slot's job id is
/// `"<source>@<slot start>"`, so a slot is enqueued at most once whatever happens.
public enum SchedulePlanner {
    /// A deterministic offset in [0, interval) for a source.
    public static func phase(sourceID: String, intervalMillis: Int64) -> Int64 {
        guard intervalMillis > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sourceID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        // Finish with a SplitMix64 mix so ids that differ in one character land far apart.
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        hash ^= hash >> 31
        return Int64(hash % UInt64(intervalMillis))
    }

    /// Start of the slot containing `now`.
    public static func slotStart(containing now: Int64, intervalMillis: Int64, phase: Int64) -> Int64 {
        let shifted = now - phase
        let index = shifted >= 0 ? shifted / intervalMillis : (shifted - intervalMillis + 1) / intervalMillis
        return index * intervalMillis + phase
    }

    public static func jobID(sourceID: String, slotStart: Int64) -> String {
        "\(sourceID)@\(slotStart)"
    }

    /// The task for the slot containing `now`, unless that slot (or a later one) was enqueued.
    /// Slots missed while the scheduler was down are skipped: only the current one runs.
    public static func due(
        _ source: SourceDefinition, lastSlotAt: Int64?, now: Int64, jitterMillis: Int64 = 0
    ) -> (task: NewTask, slotStart: Int64, nextSlotStart: Int64)? {
        let phase = phase(sourceID: source.id, intervalMillis: source.intervalMillis)
        let slot = slotStart(containing: now, intervalMillis: source.intervalMillis, phase: phase)
        if let lastSlotAt, lastSlotAt >= slot { return nil }
        let task = NewTask(
            jobID: jobID(sourceID: source.id, slotStart: slot),
            sourceID: source.id,
            priority: source.priority,
            runAt: max(slot, now) + max(0, jitterMillis),
            maxAttempts: source.maxAttempts
        )
        return (task, slot, slot + source.intervalMillis)
    }
}
