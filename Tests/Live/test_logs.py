"""The central log of a running deployment, over HTTP: every role's lines arrive in
`system_logs` and are found by role, level and words, newest first; no API key appears in any
line. Reads METROPULSE_BASE_URL, METROPULSE_ADMIN_KEY and METROPULSE_SERVICES (the roles the
deployment runs, comma-separated; scripts/browser-tests starts the servers)."""

import json
import os
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ.get("METROPULSE_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = os.environ.get("METROPULSE_ADMIN_KEY", "")
SERVICES = [s for s in os.environ.get("METROPULSE_SERVICES", "serve").split(",") if s]


def logs(**query):
    url = BASE + "/api/system/logs?" + urllib.parse.urlencode(query)
    request = urllib.request.Request(url, headers={"X-API-Key": KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(condition, timeout=30.0, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message} (last: {last!r})")


class CentralLogTests(unittest.TestCase):
    def test_every_role_logs_to_the_central_log(self):
        for service in SERVICES:
            found = wait_for(lambda: logs(service=service, limit=5)["logs"], 30, f"lines of the {service} role")
            self.assertTrue(all(line["service"] == service for line in found))
            instance = found[0]["instance"]
            by_process = logs(service=instance, limit=5)["logs"]
            self.assertTrue(by_process and all(line["instance"] == instance for line in by_process))

    def test_newest_first_and_filters(self):
        lines = logs(limit=200)["logs"]
        self.assertTrue(lines)
        times = [line["time"] for line in lines]
        self.assertEqual(times, sorted(times, reverse=True), "newest first")
        notices = logs(level="notice", limit=200)["logs"]
        self.assertTrue(notices, "the API's 'listening' line is a notice")
        self.assertTrue(all(l["level"] in ("notice", "warning", "error", "critical") for l in notices))
        found = logs(q="LISTENING")["logs"]
        self.assertTrue(found and all("listening" in l["message"].lower() for l in found), found)
        self.assertEqual(logs(q="no-such-word-anywhere-xyz")["logs"], [])
        since = lines[0]["time"]
        self.assertTrue(all(l["time"] >= since for l in logs(since=since)["logs"]))

    def test_bad_parameters_are_named(self):
        for query, name in [({"level": "loud"}, "level"), ({"limit": "0"}, "limit"), ({"since": "soon"}, "since")]:
            with self.assertRaises(urllib.error.HTTPError) as refused:
                logs(**query)
            self.assertEqual(refused.exception.code, 400)
            body = json.loads(refused.exception.read())
            self.assertTrue(body["error"]["message"].startswith(name), body)

    def test_no_key_in_any_line(self):
        for line in logs(limit=1000, since="1970-01-01T00:00:00Z")["logs"]:
            text = json.dumps(line)
            self.assertNotIn(KEY, text, "an API key reached the central log")


if __name__ == "__main__":
    unittest.main(verbosity=2)
