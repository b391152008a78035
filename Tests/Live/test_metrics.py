"""`/metrics` of a running `metropulse serve`, read with the Prometheus client's own parser: the
series named in docs/operations.md are there with their types and labels, and the counters move
between two scrapes. Reads METROPULSE_BASE_URL (scripts/browser-tests starts the server)."""

import json
import os
import time
import unittest
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BASE = os.environ.get("METROPULSE_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
# A worker's own /metrics (metrics.port) when the workers run in processes of their own.
WORKER = os.environ.get("METROPULSE_WORKER_METRICS_URL", BASE).rstrip("/")


KEY = os.environ.get("METROPULSE_ADMIN_KEY", "")


def scrape(base=BASE):
    request = urllib.request.Request(base + "/metrics", headers={"Authorization": "Bearer " + KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain"), response.headers["Content-Type"]
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def total(family, suffix="", **labels):
    return sum(s.value for s in family.samples
               if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items()))


class MetricsTests(unittest.TestCase):
    def test_series_types_and_labels(self):
        urllib.request.urlopen(BASE + "/api/stations?limit=1", timeout=10).read()
        # A live stream is answered before the router; it is counted all the same.
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(BASE + "/api/stream?topics=nope", timeout=10)
        self.assertEqual(refused.exception.code, 400)
        families = scrape()
        families.update({k: v for k, v in scrape(WORKER).items() if k not in families})
        expected = {
            "metropulse_queue_tasks": "gauge",
            "metropulse_queue_oldest_waiting_seconds": "gauge",
            "metropulse_feed_age_seconds": "gauge",
            "metropulse_worker_in_flight": "gauge",
            "metropulse_worker_heartbeat_age_seconds": "gauge",
            "metropulse_task_duration_seconds": "histogram",
            "metropulse_store_commit_duration_seconds": "histogram",
            "metropulse_http_request_duration_seconds": "histogram",
            # The client's parser names a counter family without its _total suffix.
            "metropulse_http_requests": "counter",
        }
        for name, kind in expected.items():
            self.assertIn(name, families, f"{name} is missing")
            self.assertEqual(families[name].type, kind, name)
        states = {s.labels["state"] for s in families["metropulse_queue_tasks"].samples}
        self.assertTrue({"queued", "running", "retrying", "dead"} <= states, states)
        # The worker scraped is one of several on PostgreSQL: the sources it ran, all of the catalogue.
        sources = {s.labels["source"] for s in families["metropulse_task_duration_seconds"].samples}
        with urllib.request.urlopen(BASE + "/api/sources", timeout=10) as response:
            catalogue = {s["id"] for s in json.load(response)["sources"]}
        self.assertTrue(sources and sources <= catalogue, (sources, catalogue))
        outcomes = {s.labels["outcome"] for s in families["metropulse_task_duration_seconds"].samples}
        self.assertTrue(outcomes <= {"succeeded", "unchanged", "failed"}, outcomes)
        routes = {s.labels["route"] for s in families["metropulse_http_request_duration_seconds"].samples}
        self.assertIn("/api/stations", routes, "routes are the router's templates")
        self.assertIn("/api/stream", routes)
        for sample in families["metropulse_feed_age_seconds"].samples:
            self.assertGreaterEqual(sample.value, 0)

    def test_needs_a_key(self):
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(BASE + "/metrics", timeout=10)
        self.assertEqual(refused.exception.code, 401)

    def test_counters_move(self):
        first, first_worker = scrape(), scrape(WORKER)
        for _ in range(3):
            urllib.request.urlopen(BASE + "/api/sources", timeout=10).read()
        time.sleep(12)  # the demo's bike feed runs every 10 s
        second, second_worker = scrape(), scrape(WORKER)
        runs = lambda f: total(f["metropulse_task_duration_seconds"], "_count")
        self.assertGreater(runs(second_worker), runs(first_worker), "task runs counted")
        requests = lambda f: total(f["metropulse_http_requests"], "_total", route="/api/sources")
        self.assertGreaterEqual(requests(second) - requests(first), 3)
        commits = lambda f: total(f["metropulse_store_commit_duration_seconds"], "_count")
        self.assertGreater(commits(second_worker), commits(first_worker), "commits counted")


if __name__ == "__main__":
    unittest.main(verbosity=2)
