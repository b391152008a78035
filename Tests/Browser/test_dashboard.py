"""The dashboard and the console in a real browser (Debian's headless Chromium through Selenium),
against a running `metropulse serve` on the demo city. `scripts/browser-tests` starts the servers
and runs this file; it reads:

  METROPULSE_BASE_URL     the server, e.g. http://127.0.0.1:18080
  METROPULSE_ADMIN_KEY    its admin key
  METROPULSE_SCREENSHOTS  where the screenshots of every page go (1280x800 and 390x844)
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.request

from selenium.common.exceptions import StaleElementReferenceException
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

BASE = os.environ.get("METROPULSE_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = os.environ.get("METROPULSE_ADMIN_KEY", "")
SHOTS = os.environ.get("METROPULSE_SCREENSHOTS", ".build/screenshots")


def api(path, method="GET", body=None, headers=None, anonymous=False):
    """The API over HTTP; with the admin key unless anonymous (or a cookie is given)."""
    headers = dict(headers or {})
    if not anonymous and "Cookie" not in headers:
        headers["X-API-Key"] = KEY
    request = urllib.request.Request(BASE + path, method=method, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def browser(width=1280, height=800):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("METROPULSE_CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("METROPULSE_CHROMEDRIVER", "/usr/bin/chromedriver")),
                              options=options)
    driver.set_page_load_timeout(30)
    # The viewport itself is the asked size (a phone's below 600 px), whatever the window's frame takes.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    return driver


def wait_for(condition, timeout=30.0, interval=0.25, message="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = condition()
        except StaleElementReferenceException:
            last = None  # read while a refresh replaced the element: read again
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message} (last: {last!r})")


def sign_in(driver, next_path="/admin/orchestrator"):
    driver.get(f"{BASE}/admin/sign-in?next={urllib.request.quote(next_path, safe='')}")
    if "/admin/sign-in" not in driver.current_url:
        return  # signed in already: the form sends the browser on
    driver.find_element(By.ID, "key").send_keys(KEY)
    driver.find_element(By.CSS_SELECTOR, "form[action='/admin/sign-in'] button[type=submit]").click()
    wait_for(lambda: driver.current_url.startswith(BASE + next_path.split("?")[0]), 10, message="the console after sign-in")


def settle(driver):
    """Waits for the page to load (and the map to draw its first snapshot), then a moment for its requests."""
    wait_for(lambda: driver.execute_script(
        "return document.readyState === 'complete' && "
        "(!window.metropulseMap || window.metropulseMap.stats.firstRenderAt !== null)"), 15, 0.05,
        message="the page to load")
    time.sleep(0.5)


def problems(driver):
    """Console errors and failed requests the page logged."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


class Pages:
    """The pages every check visits, found from the API."""

    @staticmethod
    def paths():
        paths = ["/", "/lines", "/rankings", "/cities"]
        _, lines = api("/api/lines")
        if lines["lines"]:
            first = max(lines["lines"], key=lambda l: l["departures"])
            paths.append(f"/lines/{first['network']}/{first['line']}")
        _, stations = api("/api/stations?limit=1")
        if stations["stations"]:
            s = stations["stations"][0]
            paths.append(f"/stations/{s['source']}/{s['id']}")
        _, cities = api("/api/cities")
        for city in cities["cities"][:1]:
            paths.append(f"/cities/{city['city']}")
        return paths

    @staticmethod
    def admin_paths():
        paths = ["/admin/orchestrator", "/admin/sources", "/admin/jobs", "/admin/quality", "/admin/logs",
                 "/admin/webhooks", "/admin/sign-in"]
        _, runs = api("/api/system/task-runs?limit=1")
        if runs["runs"]:
            paths.append(f"/admin/runs/{urllib.request.quote(runs['runs'][0]['id'], safe='')}")
        _, job_runs = api("/api/jobs/check_queue_health/runs?limit=1")
        if job_runs["runs"]:
            paths.append(f"/admin/jobs/check_queue_health/runs/{job_runs['runs'][0]['id']}")
        return paths


class DashboardTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        wait_for(lambda: api("/api/stations?limit=1")[1]["count"] > 0, 60, message="the demo's first stations")
        wait_for(lambda: api("/api/lines")[1]["count"] > 0, 60, message="the demo's first lines")
        cls.driver = browser()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()

    def setUp(self):
        self.driver.get_log("browser")  # forget what earlier tests logged

    def test_every_page_loads_without_errors(self):
        d = self.driver
        for path in Pages.paths():
            d.get(BASE + path)
            settle(d)
            self.assertEqual(problems(d), [], f"{path}: console errors or failed requests")
            self.assertIn("Metropulse", d.title, path)
        sign_in(d)
        for path in Pages.admin_paths():
            if path == "/admin/sign-in":
                continue
            d.get(BASE + path)
            settle(d)
            self.assertEqual(problems(d), [], f"{path}: console errors or failed requests")
            self.assertNotIn("/admin/sign-in", d.current_url, path)

    def test_map_shows_every_station_and_updates_live(self):
        d = self.driver
        d.get(BASE + "/")
        _, stations = api("/api/stations?limit=50000")
        expected = len([s for s in stations["stations"] if s.get("lat") is not None])
        count = wait_for(lambda: d.execute_script("return window.metropulseMap && window.metropulseMap.stationCount()"),
                         20, message="station markers")
        self.assertEqual(count, expected, "markers on the map vs /api/stations")
        self.assertEqual(int(d.find_element(By.ID, "map").get_attribute("data-stations")), expected)
        d.execute_script("window.__notReloaded = true")
        before = d.execute_script("""
            const m = window.metropulseMap; const out = {};
            for (const k of m.stationKeys()) { const s = m.station(k); out[k] = [s.bikes, s.docks, s.observed, s.colour]; }
            return out;""")

        def changed():
            now = d.execute_script("""
                const m = window.metropulseMap; const out = {};
                for (const k of m.stationKeys()) { const s = m.station(k); out[k] = [s.bikes, s.docks, s.observed, s.colour]; }
                return out;""")
            return [k for k, v in now.items() if before.get(k) != v]

        moved = wait_for(changed, 60, 1, message="a station to change after the demo's next update")
        self.assertTrue(d.execute_script("return window.__notReloaded === true"), "the page was reloaded")
        key = moved[0]
        # The popup shows the new counts: open it and compare with the API.
        source, station_id = key.split("/", 1)
        state = d.execute_script("return window.metropulseMap.station(arguments[0])", key)
        self.assertIn(state["category"], ["empty", "low", "available", "full", "closed"])
        # Badges: every source has a freshness state from the health ledger.
        badges = wait_for(lambda: [e.text for e in d.find_elements(By.CSS_SELECTOR, "[data-badge]") if e.text != "…"],
                          20, message="freshness badges")
        for text in badges:
            self.assertIn(text, ["live", "degraded", "stale", "down", "unknown"])
        self.assertEqual(problems(d), [])

    def test_search_finds_a_station_and_opens_its_popup(self):
        d = self.driver
        d.get(BASE + "/")
        wait_for(lambda: d.execute_script("return window.metropulseMap && window.metropulseMap.stationCount()"), 20)
        _, stations = api("/api/stations?limit=1")
        name = stations["stations"][0]["name"]
        box = d.find_element(By.ID, "search")
        box.send_keys(name[:6])
        result = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#search-results button"), 5, message="search results")
        result[0].click()
        popup = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content .popup-title"), 5,
                         message="a popup")
        self.assertTrue(popup[0].text)

    def test_layer_toggles_hide_and_show_a_network(self):
        d = self.driver
        d.get(BASE + "/")
        settle(d)
        boxes = d.find_elements(By.CSS_SELECTOR, "[data-network]")
        if not boxes:
            self.skipTest("no transit network with several sources")
        box = boxes[0]
        members = box.get_attribute("data-sources").split(",")
        visible = "return document.querySelectorAll('.vehicle-icon').length"
        wait_for(lambda: d.execute_script(visible) > 0, 20, message="vehicle markers")
        before = d.execute_script(visible)
        box.click()
        for source in members:
            self.assertFalse(d.find_element(By.CSS_SELECTOR, f"[data-layer='{source}']").is_selected())
        self.assertLess(d.execute_script(visible), before, "the network's vehicles are hidden")
        box.click()
        wait_for(lambda: d.execute_script(visible) >= before - 2, 5, message="the vehicles back")

    def test_city_page_streams_readings_and_shows_risk(self):
        d = self.driver
        d.get(BASE + "/cities/demo")
        settle(d)
        panel = lambda key: d.execute_script(
            "return Number(document.getElementById('live-readings').dataset[arguments[0]] || 0)", key)
        wait_for(lambda: panel("received") > 0, 30, message="the stream's snapshot of readings")
        # A city source fetched now: its readings arrive on the open page.
        api("/api/sources/demo-weather-centre/run", method="POST")
        wait_for(lambda: panel("updates") >= 1, 45, message="a reading streamed after the run")
        self.assertGreater(len(d.find_elements(By.CSS_SELECTOR, "#live-readings li")), 0)
        # City Live run now: every zone's card says its risk.
        api("/api/cities/demo/process", method="POST")
        wait_for(lambda: len(api("/api/cities/demo/risk")[1]["zones"]) == 3, 30, message="the zones' risk")
        d.get(BASE + "/cities/demo")
        settle(d)
        levels = d.execute_script("return [...document.querySelectorAll('section.card[data-risk]')].map(c => c.dataset.risk)")
        self.assertEqual(len(levels), 3)
        self.assertTrue(all(level in ("low", "elevated", "high") for level in levels), levels)
        self.assertEqual(problems(d), [])

    def test_city_page_shows_an_alert_after_an_injected_spike(self):
        d = self.driver
        # The demo's air sensors in zone sud read 300 µg/m³ of PM2.5 for 30 minutes.
        status, command = api("/api/demo/incidents", "POST",
                              b'{"zone": "sud", "metric": "pm2_5", "value": 300, "minutes": 30}',
                              {"Content-Type": "application/json"})
        self.assertEqual(status, 202, command)
        wait_for(lambda: next(c for c in api("/api/system/commands?limit=20")[1]["commands"]
                              if c["id"] == command["id"])["state"] == "done", 30,
                 message="every demo server took the incident")

        def sud_pm25():
            zones = api("/api/cities/demo/zones")[1]["zones"]
            metrics = next(z for z in zones if z["zone"] == "sud")["metrics"]
            return next((m["value"] for m in metrics if m["metric"] == "pm2_5"), None)

        def fetched():
            if sud_pm25() == 300:
                return True
            api("/api/sources/demo-air-sud/run", method="POST")
            return False
        wait_for(fetched, 45, interval=3, message="the spike fetched and stored")

        def ran_after(requested_at):
            run = api("/api/jobs/process_city")[1].get("last_run") or {}
            return run.get("status") == "succeeded" and run.get("started_at", "") >= requested_at

        # Two windows of process_city: the alert opens.
        for _ in range(2):
            _, answer = api("/api/cities/demo/process", method="POST")
            wait_for(lambda: ran_after(answer["job"]["requested_at"]), 45, message="process_city ran")
        alert = wait_for(lambda: next((a for a in api("/api/cities/demo/alerts?state=open")[1]["alerts"]
                                       if a["zone"] == "sud" and a["kind"] == "air_quality"), None), 30,
                         message="an open air-quality alert in zone sud")
        self.assertEqual(alert["severity"], "critical")
        d.get(BASE + "/cities/demo")
        settle(d)
        item = d.find_element(By.CSS_SELECTOR, '#city-alerts li.city-alert[data-zone="sud"]')
        self.assertIn("zone sud", item.text)
        self.assertIn(alert["recommendation"], item.text)
        # The zone's AQI feature names the dominant pollutant.
        _, features = api("/api/cities/demo/zones/sud/features")
        aqi = next(f for f in features["features"] if f["name"] == "us_aqi")
        self.assertEqual(aqi.get("detail"), "pm2_5")
        if SHOTS:
            d.save_screenshot(os.path.join(SHOTS, "city-alert-after-spike.png"))
        self.assertEqual(problems(d), [])

    def test_line_page_shows_the_snapshot_departures(self):
        d = self.driver
        _, lines = api("/api/lines")
        line = max(lines["lines"], key=lambda l: l["departures"])
        path = f"/lines/{line['network']}/{line['line']}"
        for attempt in range(5):
            _, snapshot = api(f"/api/snapshots/{line['network']}/{line['line']}?per_stop=4")
            d.get(BASE + path)
            rows = d.find_elements(By.CSS_SELECTOR, "tr.stop-row")
            page = {r.get_attribute("data-stop"): [li.get_attribute("data-trip") for li in r.find_elements(By.CSS_SELECTOR, "li[data-trip]")]
                    for r in rows}
            _, again = api(f"/api/snapshots/{line['network']}/{line['line']}?per_stop=4")
            expected = {s["stop_id"]: [dep.get("trip_id") or "" for dep in s["departures"]] for s in snapshot["stops"]}
            if snapshot["fetched_at"] == again["fetched_at"]:
                break  # no update between the two reads: the comparison is fair
        self.assertTrue(expected, "the snapshot has stops")
        self.assertEqual(page, expected, "next departures on the page vs /api/snapshots")

    def test_console_pause_resume_and_run_now(self):
        d = self.driver
        sign_in(d)
        Select(d.find_element(By.ID, "refresh")).select_by_value("1")
        _, workers = api("/api/system/workers")
        worker = next(w for w in workers["workers"] if w["health"] != "down")["worker_id"]
        Select(d.find_element(By.ID, "control-target")).select_by_value(worker)
        d.find_element(By.CSS_SELECTOR, "[data-command=PAUSE_FETCH]").click()
        outcome = wait_for(lambda: d.find_element(By.ID, "control-outcome").text, 10, message="the command's outcome")
        self.assertIn("sent to", outcome)

        def status_on_page():
            # Read in one script: the section is replaced by each refresh.
            return d.execute_script(
                "return document.querySelector(`tr[data-worker='${arguments[0]}']`)?.dataset.status ?? null", worker)

        wait_for(lambda: status_on_page() == "paused", 40, message=f"{worker} paused on the page")
        status = {w["worker_id"]: w["status"] for w in api("/api/system/workers")[1]["workers"]}
        self.assertEqual(status[worker], "paused", "the API agrees")
        d.find_element(By.CSS_SELECTOR, "[data-command=RESUME_FETCH]").click()
        wait_for(lambda: status_on_page() == "running", 40, message=f"{worker} running again")
        status = {w["worker_id"]: w["status"] for w in api("/api/system/workers")[1]["workers"]}
        self.assertEqual(status[worker], "running")

        self.assertTrue(d.find_element(By.ID, "run-now").is_enabled(), "Run now is offered")
        source = "demo-bikes"
        Select(d.find_element(By.ID, "f-source")).select_by_value(source)
        d.find_element(By.CSS_SELECTOR, "#run-filters button[type=submit]").click()
        wait_for(lambda: "source=demo-bikes" in d.current_url, 5)
        Select(d.find_element(By.ID, "refresh")).select_by_value("1")
        runs_on_page = "return [...document.querySelectorAll('#runs-table tr[data-run]')].map(e => e.dataset.run)"
        before = set(d.execute_script(runs_on_page))
        Select(d.find_element(By.ID, "run-source")).select_by_value(source)
        d.find_element(By.ID, "run-now").click()
        outcome = wait_for(lambda: "queued" in d.find_element(By.ID, "control-outcome").text and
                           d.find_element(By.ID, "control-outcome").text, 10, message="Run now's outcome")
        job = outcome.split("job ")[1].split(")")[0]

        def new_run():
            return [r for r in d.execute_script(runs_on_page) if r not in before and r.startswith(job)]

        wait_for(new_run, 30, message="the new run in the timeline")
        bars = d.execute_script("return [...document.querySelectorAll('.timeline a')].map(a => decodeURIComponent(a.href))")
        self.assertTrue(any(job in href for href in bars), "the run is on the timeline")

    def test_jobs_run_now_pause_and_resume(self):
        d = self.driver
        sign_in(d, "/admin/jobs")
        Select(d.find_element(By.ID, "refresh")).select_by_value("2")
        job = "check_store_health"
        api(f"/api/jobs/{job}/resume", method="POST")  # as a run cut short may have left it
        runs = lambda: api(f"/api/jobs/{job}/runs?limit=500")[1]["runs"]
        before = {r["id"] for r in runs()}
        # The grid is replaced at each refresh: find and click in one script.
        click = lambda action: d.execute_script(
            "document.querySelector(`[data-job-action=${arguments[0]}][data-job-id=${arguments[1]}]`).click()",
            action, job)
        click("run")
        wait_for(lambda: "Run asked for" in d.find_element(By.ID, "control-outcome").text, 10,
                 message="Run now's outcome")
        new = wait_for(lambda: [r for r in runs() if r["id"] not in before and r["trigger"] == "manual"], 30,
                       message="a manual run, started by the scheduler's leader")
        run_id = new[0]["id"]
        on_grid = ("return [...document.querySelectorAll(`tr[data-job='${arguments[0]}'] .run-grid a`)]"
                   ".some(a => a.getAttribute('href').endsWith('/' + arguments[1]))")
        wait_for(lambda: d.execute_script(on_grid, job, run_id), 20, message="the manual run on the grid")

        paused = lambda: d.execute_script(
            "return document.querySelector(`tr[data-job='${arguments[0]}']`)?.dataset.paused ?? null", job)
        click("pause")
        wait_for(lambda: paused() == "true", 20, message=f"{job} paused on the page")
        self.assertTrue(api(f"/api/jobs/{job}")[1]["paused"], "the API agrees")
        click("resume")
        wait_for(lambda: paused() == "false", 20, message=f"{job} resumed on the page")
        self.assertFalse(api(f"/api/jobs/{job}")[1]["paused"])

        d.get(BASE + f"/admin/jobs/{job}/runs/{run_id}")
        settle(d)
        self.assertIn("manual", d.find_element(By.TAG_NAME, "main").text)
        self.assertEqual(problems(d), [])

    def test_webhooks_create_test_delivery_and_delete(self):
        """An endpoint made on the webhooks page gets a signed test delivery on a loopback receiver."""
        received = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                received.append((self.headers.get("webhook-id"), self.headers.get("webhook-timestamp"),
                                 self.headers.get("webhook-signature"), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            d = self.driver
            sign_in(d, "/admin/webhooks")
            d.execute_script("document.querySelector('details.webhook-new').open = true")
            url = f"http://127.0.0.1:{server.server_port}/hook"
            d.find_element(By.ID, "wh-url").send_keys(url)
            d.find_element(By.ID, "wh-description").send_keys("browser test receiver")
            d.find_element(By.CSS_SELECTOR, "#webhook-form button[type=submit]").click()
            wait_for(lambda: d.find_element(By.ID, "webhook-secret").is_displayed(), 10, message="the secret, once")
            secret = d.find_element(By.ID, "secret-value").text
            self.assertTrue(secret.startswith("whsec_"), secret)
            endpoint = next(e for e in api("/api/webhooks")[1]["endpoints"] if e["url"] == url)
            self.assertNotIn("secret", endpoint)
            wait_for(lambda: d.find_elements(By.CSS_SELECTOR, f"tr[data-endpoint='{endpoint['id']}']"), 10,
                     message="the endpoint in the list")
            d.execute_script(
                "document.querySelector(`[data-webhook-action=test][data-id='${arguments[0]}']`).click()",
                endpoint["id"])
            wait_for(lambda: received, 20, message="the test delivery at the receiver")
            message_id, timestamp, signature, body = received[0]
            expected = base64.b64encode(hmac.new(base64.b64decode(secret[len("whsec_"):]),
                                                 f"{message_id}.{timestamp}.{body}".encode(),
                                                 hashlib.sha256).digest()).decode()
            self.assertIn("v1," + expected, signature.split(" "), "the Standard Webhooks signature")
            self.assertEqual(json.loads(body)["type"], "webhook.test")

            d.get(BASE + f"/admin/webhooks?endpoint={endpoint['id']}")
            settle(d)
            wait_for(lambda: "succeeded" in d.find_element(By.CSS_SELECTOR, ".deliveries-table").text, 20,
                     message="the delivery logged as succeeded")
            self.assertIn("HTTP 204", d.find_element(By.CSS_SELECTOR, ".deliveries-table").text)
            self.assertEqual(problems(d), [])
            d.execute_script("window.confirm = () => true")
            d.execute_script(
                "document.querySelector(`[data-webhook-action=delete][data-id='${arguments[0]}']`).click()",
                endpoint["id"])
            wait_for(lambda: api(f"/api/webhooks/{endpoint['id']}")[0] == 404, 10, message="the endpoint deleted")
        finally:
            server.shutdown()
            server.server_close()

    def test_quality_page_lists_every_latest_result(self):
        d = self.driver
        job = "data_quality_check"
        runs = lambda: api(f"/api/jobs/{job}/runs?limit=500")[1]["runs"]
        before = {r["id"] for r in runs()}
        api(f"/api/jobs/{job}/run", method="POST")
        wait_for(lambda: [r for r in runs() if r["id"] not in before and r["status"] == "succeeded"], 40,
                 message="a manual data_quality_check run")
        sign_in(d, "/admin/quality")
        settle(d)
        latest = api("/api/quality")[1]["latest"]
        self.assertGreater(len(latest), 0)
        rows = d.execute_script("return [...document.querySelectorAll('tr[data-check]')].map(r => r.dataset.status)")
        self.assertEqual(len(rows), len(latest), "one row per check and source")
        self.assertEqual(rows.count("failed"), sum(1 for r in latest if r["status"] == "failed"))
        self.assertEqual(problems(d), [])

    def test_console_scale_and_command_answers(self):
        d = self.driver
        sign_in(d)
        Select(d.find_element(By.ID, "refresh")).select_by_value("1")
        summary = lambda: d.execute_script(
            "const s = document.getElementById('fleet-summary'); return s ? [Number(s.dataset.slots), Number(s.dataset.pools)] : null")
        slots, pools = wait_for(summary, 20, message="the fleet's slots")
        self.assertGreater(pools, 0)
        d.find_element(By.CSS_SELECTOR, "[data-scale='1']").click()
        outcome = wait_for(lambda: "Slots" in d.find_element(By.ID, "control-outcome").text
                           and d.find_element(By.ID, "control-outcome").text, 10, message="the scale outcome")
        self.assertIn(f"Slots {slots} → {slots + 1}", outcome)
        wait_for(lambda: summary()[0] == slots + 1, 30, message="the fleet at one more slot")
        state = "return document.querySelector('#commands tr[data-command-id]')?.dataset.state ?? null"
        wait_for(lambda: d.execute_script(state) == "done", 30, message="the SCALE command answered")
        # Read in one script: the section is replaced by each refresh.
        row = d.execute_script("return document.querySelector('#commands tr[data-command-id]')?.innerText ?? ''")
        self.assertIn("SCALE", row)
        self.assertIn("slots", row, "each pool's answer")
        _, latest = api("/api/system/commands?limit=1")
        self.assertEqual(sum(latest["commands"][0]["slots"].values()), slots + 1)
        self.assertTrue(all(a["ok"] for a in latest["commands"][0]["acks"]))
        # Back to the old size with the count field.
        field = d.find_element(By.ID, "scale-count")
        field.clear()
        field.send_keys(str(slots))
        d.find_element(By.ID, "scale-set").click()
        wait_for(lambda: summary()[0] == slots, 30, message="the fleet back at its size")
        # A count the pools cannot take is refused with the reason, and nothing changes.
        field.clear()
        field.send_keys("0")
        d.find_element(By.ID, "scale-set").click()
        self.assertIn("1 or more", d.find_element(By.ID, "control-outcome").text)
        _, listed = api("/api/system/commands?limit=2")
        self.assertEqual([c["kind"] for c in listed["commands"]], ["SCALE", "SCALE"])
        self.assertTrue(all(c["issued_by"] for c in listed["commands"]), "the sender's key name is recorded")
        self.assertEqual(problems(d), [])

    def test_logs_page_filters_and_follows_new_lines(self):
        d = self.driver
        sign_in(d, "/admin/logs")
        d.get(BASE + "/admin/logs?window=all")
        settle(d)
        rows = "return [...document.querySelectorAll('#log-lines tr')].map(r => [r.dataset.id, r.className, r.textContent])"
        lines = wait_for(lambda: d.execute_script(rows), 10, message="log lines on the page")
        _, listed = api("/api/system/logs?limit=200")
        self.assertEqual({l[0] for l in lines}, {str(l["id"]) for l in listed["logs"]}, "the page shows what the API has")
        # A level filter, through the form, kept in the URL.
        Select(d.find_element(By.ID, "log-level")).select_by_value("notice")
        d.find_element(By.CSS_SELECTOR, "form.log-filters button[type=submit]").click()
        wait_for(lambda: "level=notice" in d.current_url, 10, message="the level in the URL")
        settle(d)
        classes = {row[1] for row in d.execute_script(rows)}
        self.assertTrue(classes, "notice lines exist (the API's 'listening' line)")
        self.assertTrue(classes <= {"log-notice", "log-warning", "log-error", "log-critical"}, classes)
        # Words: only lines holding them.
        d.get(BASE + "/admin/logs?window=all&q=listening")
        settle(d)
        texts = [row[2] for row in d.execute_script(rows)]
        self.assertTrue(texts and all("listening" in t.lower() for t in texts), texts)
        # Following: a control command makes each worker log a line, which appears without a reload.
        d.get(BASE + "/admin/logs?window=15m&q=control%20command")
        settle(d)
        d.execute_script("window.__notReloaded = true")
        before = len(d.execute_script(rows))
        status, _ = api("/api/system/commands", "POST", b'{"kind": "RESUME_FETCH"}', {"Content-Type": "application/json"})
        self.assertEqual(status, 202)
        wait_for(lambda: len(d.execute_script(rows)) > before, 30, message="the workers' 'control command' lines")
        self.assertTrue(d.execute_script("return window.__notReloaded === true"), "the page was not reloaded")
        self.assertEqual(d.find_element(By.ID, "log-state").text, "Following new lines")
        self.assertEqual(problems(d), [])

    def test_admin_needs_the_session(self):
        fresh = browser()
        try:
            for path in ["/admin/orchestrator", "/admin/sources", "/admin/logs"]:
                fresh.get(BASE + path)
                self.assertIn("/admin/sign-in", fresh.current_url, path)
        finally:
            fresh.quit()
        status, body = api("/api/system/commands", "POST", b'{"kind": "PAUSE_FETCH"}',
                           {"Content-Type": "application/json"}, anonymous=True)
        self.assertEqual(status, 401)
        status, body = api("/api/system/workers", anonymous=True)
        self.assertEqual(status, 401, "reading the fleet needs a key too")
        self.assertIn("X-API-Key", body["error"]["message"])
        # A session cookie without its CSRF token is refused too.
        opener = urllib.request.build_opener()
        form = urllib.parse.urlencode({"key": KEY, "next": "/admin/orchestrator"}).encode()
        request = urllib.request.Request(BASE + "/admin/sign-in", data=form, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        try:
            urllib.request.build_opener(NoRedirect).open(request, timeout=10)
            self.fail("sign-in should answer 303")
        except urllib.error.HTTPError as error:
            self.assertEqual(error.code, 303)
            cookie = error.headers["Set-Cookie"].split(";")[0]
        status, body = api("/api/system/commands", "POST", b'{"kind": "PAUSE_FETCH"}',
                           {"Content-Type": "application/json", "Cookie": cookie})
        self.assertEqual(status, 403)
        del opener

    def test_accessibility_no_serious_violation(self):
        from axe_selenium_python import Axe
        d = self.driver
        found = {}
        sign_in(d)
        for path in Pages.paths() + Pages.admin_paths():
            if path == "/admin/sign-in":
                continue
            d.get(BASE + path)
            settle(d)
            axe = Axe(d)
            axe.inject()
            results = axe.run()
            bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
                   for v in results["violations"] if v["impact"] in ("serious", "critical")]
            if bad:
                found[path] = bad
        d.delete_all_cookies()
        d.get(BASE + "/admin/sign-in")
        axe = Axe(d)
        axe.inject()
        bad = [v["id"] for v in axe.run()["violations"] if v["impact"] in ("serious", "critical")]
        if bad:
            found["/admin/sign-in"] = bad
        self.assertEqual(found, {}, "axe: serious or critical violations")

    def test_screenshots_of_every_page(self):
        os.makedirs(SHOTS, exist_ok=True)
        for width, height in [(1280, 800), (390, 844)]:
            d = browser(width, height)
            try:
                sign_in(d)
                for path in Pages.paths() + Pages.admin_paths():
                    if path == "/admin/sign-in":
                        continue
                    d.get(BASE + path)
                    settle(d)
                    name = path.strip("/").replace("/", "_").replace("%", "") or "map"
                    d.save_screenshot(os.path.join(SHOTS, f"{name[:80]}-{width}x{height}.png"))
                    self.assertEqual(problems(d), [], f"{path} at {width}px")
                    overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
                    self.assertLessEqual(overflow, 1, f"{path} scrolls sideways at {width}px")
            finally:
                d.quit()


if __name__ == "__main__":
    unittest.main(verbosity=2)
