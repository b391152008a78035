/// When each enabled source's next slot starts, in a min-heap: a tick looks only at the sources
/// whose slot has come, not at every source, so ten thousand sources cost what the due ones cost.
/// Built from a catalog version and the slots already enqueued; rebuilt when either changes.
struct SchedulePlan {
    private struct Entry {
        var nextSlot: Int64
        var sourceID: String
    }

    let version: Int
    private var sources: [String: SourceDefinition] = [:]
    private var heap: [Entry] = []

    init(sources: [SourceDefinition], version: Int, lastSlots: [String: Int64], now: Int64) {
        self.version = version
        for source in sources where source.enabled && self.sources[source.id] == nil {
            self.sources[source.id] = source
            let phase = SchedulePlanner.phase(sourceID: source.id, intervalMillis: source.intervalMillis)
            let slot = SchedulePlanner.slotStart(containing: now, intervalMillis: source.intervalMillis, phase: phase)
            let enqueued = lastSlots[source.id].map { $0 >= slot } ?? false
            push(source.id, nextSlot: enqueued ? slot + source.intervalMillis : slot)
        }
    }

    /// When the earliest next slot starts; nil without sources.
    var nextWake: Int64? { heap.first?.nextSlot }

    /// Takes out the sources whose next slot starts at or before `now`, earliest first; push
    /// each back with its new next slot.
    mutating func popDue(now: Int64) -> [(source: SourceDefinition, nextSlot: Int64)] {
        var due: [(SourceDefinition, Int64)] = []
        while let first = heap.first, first.nextSlot <= now {
            let entry = popFirst()
            if let source = sources[entry.sourceID] { due.append((source, entry.nextSlot)) }
        }
        return due
    }

    mutating func push(_ sourceID: String, nextSlot: Int64) {
        heap.append(Entry(nextSlot: nextSlot, sourceID: sourceID))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].nextSlot < heap[parent].nextSlot else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popFirst() -> Entry {
        let first = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].nextSlot < heap[smallest].nextSlot { smallest = left }
            if right < heap.count, heap[right].nextSlot < heap[smallest].nextSlot { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }
}
