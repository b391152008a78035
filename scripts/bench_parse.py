#!/usr/bin/env python3
"""CPython baseline for `metropulse bench parse`.

Usage: bench_parse.py gbfs|gtfs-rt FILE SECONDS

gbfs: json.loads of a GBFS station_status file, then one dict per station with the fields
Metropulse normalizes (the work a Python worker does per snapshot).
gtfs-rt: the protobuf package's FeedMessage.ParseFromString (gtfs_realtime_pb2.py beside this
script, generated once with protoc from the specification's gtfs-realtime.proto).

Repeats the work for at least SECONDS and prints one JSON line:
{"iterations": n, "seconds": s, "entities": e, "bytes": b}
"""
import json
import os
import sys
import time


def gbfs(data):
    doc = json.loads(data)
    stations = []
    for s in doc["data"]["stations"]:
        bikes = s.get("num_bikes_available", s.get("num_vehicles_available", 0))
        docks = s.get("num_docks_available")
        installed = bool(s.get("is_installed", True))
        renting = bool(s.get("is_renting", True))
        returning = bool(s.get("is_returning", True))
        places = bikes + docks if docks is not None else 0
        stations.append({
            "station_id": str(s.get("station_id")),
            "bikes_available": bikes,
            "docks_available": docks,
            "is_installed": installed,
            "is_renting": renting,
            "is_returning": returning,
            "status": "out_of_service" if not installed else ("in_service" if renting or returning else "closed"),
            "occupancy_rate": min(1.0, bikes / places) if places > 0 else None,
            "observed_at": s.get("last_reported", doc.get("last_updated")),
        })
    return len(stations)


def gtfs_rt(data):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gtfs_realtime_pb2  # noqa: E402

    message = gtfs_realtime_pb2.FeedMessage()
    message.ParseFromString(data)
    return len(message.entity)


def main():
    kind, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    work = {"gbfs": gbfs, "gtfs-rt": gtfs_rt}[kind]
    with open(path, "rb") as handle:
        data = handle.read()
    entities = work(data)  # warm-up (and the import for gtfs-rt)
    iterations = 0
    start = time.perf_counter()
    while True:
        work(data)
        iterations += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print(json.dumps({"iterations": iterations, "seconds": elapsed, "entities": entities, "bytes": len(data)}))


if __name__ == "__main__":
    main()
