"""The PWA on a slow phone on a slow network: Chrome DevTools' Slow 3G figures (400 ms latency,
400 kbit/s each way) and a CPU four times slower, set through the DevTools protocol on the page and
on its service worker (whose fetches the page's settings do not slow).

Measured, not asserted against a time: the bytes of a first load and the seconds to a usable
login form, then the seconds from tapping "Nyalakan kamera" to the first QR decoded on a first
scan, once cold (the decoder fetched by that tap) and once with the decoder precached after
login. The figures are printed and written to tests/e2e/results/slow3g.json. Asserted: the app's
files come compressed, the cold scan says how much of the decoder has come, and the precache
fills the decoder's cache.

Run on one database only: the figures are the network's and the phone's; the gateway's database
plays no part in them, and a run takes about a minute.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.request
from pathlib import Path

import pytest

from e2e.conftest import PHONE
from e2e.pwa_helpers import write_qr_video
from gateway.api.pwa import served_files

RESULTS = Path(__file__).resolve().parent / "results" / "slow3g.json"
PWA = Path(__file__).resolve().parents[2] / "pwa"
SLOW_3G = {
    "offline": False,
    "latency": 400,  # ms
    "downloadThroughput": 400_000 // 8,  # bytes per second
    "uploadThroughput": 400_000 // 8,
}
CPU_SLOWDOWN = 4
DECODER_CACHE = "interkop-decoder-barcode-detector-3.2.2"
WASM = "/vendor/barcode-detector-3.2.2/zxing_reader.wasm"
SLOW_TIMEOUT_MS = 180_000


class Throttled:
    """A page and the service worker it starts, on slow 3G with a slower CPU; counts the bytes
    each receives from the network (encoded: compressed bodies and headers), and the encodings.

    The service worker is reached through the page's session (auto-attach, not flattened, as
    playwright's own sessions are flattened), paused at its start until it is throttled too.
    """

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.bytes = {"page": 0, "service_worker": 0}
        self.encodings: dict[str, str] = {}  # path -> Content-Encoding ("" for none)
        self._requests: dict[tuple[str, str], str] = {}  # (target, request id) -> path
        self._ids = itertools.count(1)
        self.cdp.on("Network.responseReceived", lambda event: self._response("page", event))
        self.cdp.on("Network.loadingFinished", lambda event: self._finished("page", event))
        self.cdp.on("Target.attachedToTarget", self._attached)
        self.cdp.on("Target.receivedMessageFromTarget", self._from_worker)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        self.cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
        self.cdp.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False},
        )

    def total(self) -> int:
        return self.bytes["page"] + self.bytes["service_worker"]

    def _to_worker(self, session: str, method: str, params: dict | None = None) -> None:
        message = {"id": next(self._ids), "method": method, "params": params or {}}
        self.cdp.send(
            "Target.sendMessageToTarget", {"sessionId": session, "message": json.dumps(message)}
        )

    def _attached(self, event) -> None:
        session = event["sessionId"]
        if event["targetInfo"]["type"] == "service_worker":
            self._to_worker(session, "Network.enable")
            self._to_worker(session, "Network.emulateNetworkConditions", SLOW_3G)
        self._to_worker(session, "Runtime.runIfWaitingForDebugger")

    def _from_worker(self, event) -> None:
        message = json.loads(event["message"])
        if message.get("method") == "Network.responseReceived":
            self._response("service_worker", message["params"])
        elif message.get("method") == "Network.loadingFinished":
            self._finished("service_worker", message["params"])

    def _response(self, target: str, event) -> None:
        response = event["response"]
        if response.get("fromServiceWorker"):
            return  # the worker's own fetch of it is counted on the worker
        path = re.sub(r"^https?://[^/]+", "", response["url"])
        headers = {name.lower(): value for name, value in response["headers"].items()}
        self.encodings[path] = headers.get("content-encoding", "")
        self._requests[(target, event["requestId"])] = path

    def _finished(self, target: str, event) -> None:
        if (target, event["requestId"]) in self._requests:
            self.bytes[target] += int(event["encodedDataLength"])


def _new_phone(browser, gateway):
    context = browser.new_context(
        base_url=gateway.url,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="id-ID",
        permissions=["camera"],
    )
    context.set_default_timeout(SLOW_TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page, Throttled(context, page)


def _log_in(page, person) -> float:
    """Log in on the open login form; return the seconds until the member's balance shows."""
    page.fill("input[name=phone]", person["phone"])
    page.fill("input[name=pin]", person["pin"])
    started = time.monotonic()
    page.click(".login-screen button[type=submit]")
    page.wait_for_selector(".member-balance:has-text('Rp')")
    return time.monotonic() - started


def _watch_scan_status(page) -> None:
    page.evaluate(
        """() => {
          window.scanStatuses = [];
          const status = document.querySelector('.pay-scan-status');
          new MutationObserver(() => window.scanStatuses.push(status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true});
        }"""
    )


def _scan(page) -> float:
    """From the member's home: open the scanner, tap the camera button; return the seconds from
    the tap until the QR in front of the fake camera is read (the confirm screen opens)."""
    page.click(".pay-button")
    page.wait_for_selector(".pay-scan-start")
    _watch_scan_status(page)
    started = time.monotonic()
    page.click(".pay-scan-start")
    page.wait_for_selector(".pay-confirm")
    return time.monotonic() - started


def _decoder_cached(page) -> bool:
    return page.evaluate(
        f"""caches.open({DECODER_CACHE!r})
              .then((cache) => cache.keys())
              .then((keys) => keys.length)"""
    ) == len([f for f in served_files(PWA) if f.startswith("vendor/")])


def _compress_once_on_the_server(gateway) -> None:
    """Ask for every file once: the gateway compresses each once per process (the wasm's brotli
    takes seconds), which a phone meets only on a gateway that has just started."""
    for name in sorted(served_files(PWA)):
        request = urllib.request.Request(f"{gateway.url}/{name}", headers={"Accept-Encoding": "br"})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


@pytest.mark.parametrize("gateway", ["sqlite"], indirect=True)
def test_first_load_and_first_scan_on_slow_3g(browser, gateway, camera_file):
    _compress_once_on_the_server(gateway)
    merchant = gateway.new_merchant(code="KPP", kind="angkot")
    _, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    write_qr_video(camera_file, sticker["url"])
    figures = {}

    # A phone that has never opened the app: first load, login, and a scan at once (cold).
    context, page, network = _new_phone(browser, gateway)
    started = time.monotonic()
    page.goto("/", wait_until="commit")
    page.wait_for_selector(".login-screen input[name=phone]")
    figures["seconds_to_login_form"] = round(time.monotonic() - started, 2)
    figures["bytes_to_login_form"] = network.total()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    figures["first_load_bytes"] = network.total()
    figures["first_load_bytes_page"] = network.bytes["page"]
    figures["first_load_bytes_service_worker_install"] = network.bytes["service_worker"]
    figures["first_load_requests"] = len(network.encodings)

    # The app's own files come compressed (brotli: Chromium accepts it); icons are PNG.
    shell = {path: encoding for path, encoding in network.encodings.items() if "/api/" not in path}
    texts = {
        path: encoding
        for path, encoding in shell.items()
        if path.endswith((".js", ".css", ".webmanifest")) and not path.endswith("/main.js")
    }
    assert len(texts) >= 20, shell
    assert set(texts.values()) == {"br"}, texts

    member = gateway.new_member(code="KSM", balance=10_000)
    figures["seconds_login_to_home"] = round(_log_in(page, member), 2)
    before = network.total()
    figures["seconds_tap_to_first_qr_cold"] = round(_scan(page), 2)
    figures["decoder_bytes"] = network.total() - before
    assert network.encodings[WASM] == "br"
    statuses = page.evaluate("window.scanStatuses")
    shares = [int(m[1]) for m in (re.match(r"Memuat pemindai… (\d+)%$", s) for s in statuses) if m]
    assert len(set(shares)) >= 3 and shares == sorted(shares), statuses
    assert page.errors == []
    context.close()

    # Another new phone: after login the decoder is precached while the person looks at home.
    context, page, network = _new_phone(browser, gateway)
    page.goto("/")
    page.wait_for_selector(".login-screen input[name=phone]")
    _log_in(page, member)
    home_at = time.monotonic()
    while not _decoder_cached(page):
        assert time.monotonic() - home_at < SLOW_TIMEOUT_MS / 1000, "the decoder was not precached"
        time.sleep(0.25)
    figures["seconds_home_to_decoder_precached"] = round(time.monotonic() - home_at, 2)
    figures["seconds_tap_to_first_qr_warm"] = round(_scan(page), 2)
    assert page.errors == []
    context.close()

    result = {
        "conditions": {
            "network": "Slow 3G: 400 ms latency, 400 kbit/s down, 400 kbit/s up",
            "cpu_slowdown": CPU_SLOWDOWN,
            "viewport": f"{PHONE['width']}x{PHONE['height']}",
            "browser": f"Chromium {browser.version}",
            "bytes": "encoded: compressed bodies and headers, page and service worker",
        },
        **figures,
    }
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
