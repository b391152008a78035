"""The peer of `metropulse bench scale`: the plain way to schedule N sources in Python.

A heap of each source's next slot, a random phase per source, and on every wake-up one
transaction inserting the due slots into the same SQLite queue the metropulse workers read.
Usage: bench_scheduler.py DATABASE SOURCES INTERVAL_MS SECONDS
"""

import heapq
import random
import sqlite3
import sys
import time


def main():
    database, count, interval, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 30000")
    now = int(time.time() * 1000)
    heap = []
    for index in range(1, count + 1):
        phase = random.Random(index).randrange(interval)
        heap.append((((now - phase) // interval) * interval + phase, f"scale-{index}"))
    heapq.heapify(heap)
    end = time.time() + seconds
    while time.time() < end:
        now = int(time.time() * 1000)
        due = []
        while heap and heap[0][0] <= now:
            slot, source = heapq.heappop(heap)
            due.append((f"{source}@{slot}", source, now, now))
            heapq.heappush(heap, (slot + interval, source))
        if due:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT OR IGNORE INTO tasks (job_id, source_id, priority, state, attempts, max_attempts,"
                " run_at, enqueued_at) VALUES (?, ?, 0, 'queued', 0, 3, ?, ?)",
                due,
            )
            connection.execute("COMMIT")
        wait = (heap[0][0] - int(time.time() * 1000)) / 1000
        time.sleep(max(0.001, min(wait, 1.0)))


if __name__ == "__main__":
    main()
