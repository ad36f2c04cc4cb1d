"""The page's socket client (static/js/jobs-socket.js) in real Chromium, against scripted sockets.

The end-to-end behaviour (restart, lost frame) is in test_browser.py; here each rule of the client is
pinned down on its own: back-off and jitter, resuming with `since`, gap resync, shop change, refresh.
"""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from tests.support.browser import chromium_path, launch_chromium

CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no Chromium installed (apt-get install chromium, or `make browsers`): browser tests skipped",
                allow_module_level=True)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent

# A scripted WebSocket: `script(socket, n)` runs when the n-th socket opens; `urls` records each URL.
HARNESS = """async ({options, steps}) => {
  const { JobsSocket } = await import("/static/js/jobs-socket.js");
  const log = { urls: [], statuses: [], snapshots: [], jobs: [], shops: [], sent: [] };
  const sockets = [];
  class ScriptedSocket {
    constructor(url) {
      this.url = url; this.readyState = 0; log.urls.push(url); sockets.push(this);
      const n = sockets.length;
      setTimeout(() => {
        const step = steps[n - 1] || { close: 1006 };
        if (step.refuse) { this.readyState = 3; this.onclose({ code: 1006 }); return; }
        this.readyState = 1; this.onopen();
        for (const frame of step.frames || []) this.onmessage({ data: JSON.stringify(frame) });
        if (step.close) { this.readyState = 3; this.onclose({ code: step.close }); }
      }, 0);
    }
    send(text) { log.sent.push(JSON.parse(text)); }
    close() { this.readyState = 3; }
  }
  let tokenNo = 0;
  const shops = options.shops || ["a.myshopify.com"];
  const client = new JobsSocket({
    url: "ws://example.invalid/ws/jobs",
    getToken: async () => `token-${++tokenNo}`,
    shopFromToken: (t) => shops[Math.min(Number(t.split("-")[1]) - 1, shops.length - 1)],
    onSnapshot: (jobs, seq) => log.snapshots.push(seq),
    onJob: (job, seq) => log.jobs.push(seq),
    onStatus: (s) => log.statuses.push(s),
    onShopChange: (shop) => log.shops.push(shop),
    baseDelayMs: 10, maxDelayMs: 80, healthyAfterMs: 60000, refreshMs: options.refreshMs || 60000,
    random: () => options.random ?? 1,
    WebSocketImpl: ScriptedSocket,
  });
  client.start();
  await new Promise((resolve) => setTimeout(resolve, options.runMs || 800));
  client.stop();
  log.urls = log.urls.map((u) => new URL(u).search);
  return log;
}"""


class _StaticFiles(http.server.SimpleHTTPRequestHandler):
    """Serves the repository's files quietly, with JavaScript's MIME type (module imports need it)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def page():
    """A Chromium page on a static server of the repository, so static/js modules import same-origin."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StaticFiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with launch_chromium(CHROMIUM) as browser:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/static/css/app.css")
            yield page
            context.close()
    finally:
        server.shutdown()
        server.server_close()


def run(page, steps, **options):
    return page.evaluate(HARNESS, {"options": options, "steps": steps})


def snapshot(seq, jobs=()):
    return {"type": "snapshot", "seq": seq, "jobs": list(jobs)}


def event(seq, job_id=1, state="running"):
    return {"type": "job", "seq": seq, "job": {"id": job_id, "state": state}}


def test_reconnect_delays_grow_exponentially_up_to_the_cap(page):
    log = run(page, [{"refuse": True}] * 8, random=1)
    delays = [s["delayMs"] for s in log["statuses"] if s["status"] == "reconnecting"][:6]
    assert delays == [10, 20, 40, 80, 80, 80]


def test_reconnect_delays_are_jittered_down_to_half_the_window(page):
    log = run(page, [{"refuse": True}] * 6, random=0)
    delays = [s["delayMs"] for s in log["statuses"] if s["status"] == "reconnecting"][:4]
    assert delays == [5, 10, 20, 40]


def test_every_connect_takes_a_fresh_token(page):
    log = run(page, [{"refuse": True}] * 3)
    tokens = [dict(p.split("=") for p in u[1:].split("&"))["id_token"] for u in log["urls"][:3]]
    assert tokens == ["token-1", "token-2", "token-3"]


def test_reconnect_resumes_with_the_last_seq(page):
    log = run(page, [{"frames": [snapshot(7), event(8), event(9)], "close": 1001}, {"frames": [event(10)]}])
    assert "since" not in log["urls"][0]
    assert "since=9" in log["urls"][1]
    assert log["jobs"] == [8, 9, 10]


def test_a_seq_gap_triggers_a_resync_from_the_last_seq_applied(page):
    log = run(page, [{"frames": [snapshot(7), event(8), event(10)]}, {"frames": [event(9), event(10)]}])
    assert log["jobs"] == [8, 9, 10]  # 10 was not applied before 9
    assert "since=8" in log["urls"][1]


def test_a_replayed_event_already_applied_is_ignored(page):
    log = run(page, [{"frames": [snapshot(7), event(8), event(8), event(7), event(9)]}])
    assert log["jobs"] == [8, 9]


def test_an_uninstalled_shop_stops_reconnecting(page):
    log = run(page, [{"frames": [snapshot(1)], "close": 4403}])
    assert len(log["urls"]) == 1
    assert log["statuses"][-1] == {"status": "uninstalled"}


def test_another_shop_drops_the_resume_point_and_is_reported(page):
    log = run(page, [{"frames": [snapshot(7)], "close": 1001}, {"frames": [snapshot(3)]}],
              shops=["a.myshopify.com", "b.myshopify.com"])
    assert log["shops"] == ["a.myshopify.com", "b.myshopify.com"]
    assert "since" not in log["urls"][1]  # b's page starts from b's snapshot, never from a's seq


def test_the_token_is_refreshed_on_the_open_socket(page):
    log = run(page, [{"frames": [snapshot(1)]}], refreshMs=100, runMs=450)
    assert len(log["sent"]) >= 3
    assert all(m["type"] == "auth" and m["id_token"].startswith("token-") for m in log["sent"])
    assert len({m["id_token"] for m in log["sent"]}) == len(log["sent"])  # a fresh one each time
