"""The soundbox in the phone, in a real headless Chromium: a driver taps "Mulai terima", two
passengers pay its sticker at the same moment, and both fares are shown, each its own item, and
spoken one after the other in Bahasa Indonesia; "Ulangi" says the last again; a reload brings the
driver back to the receive screen, where a fare waits to be spoken until the tap.

The page's `speechSynthesis` and `navigator.wakeLock` are fakes put in by an init script (headless
Chromium has no voice): the fake engine speaks one utterance at a time (300 ms each), records each
one's text, lang and voice and when it was handed over, and fires `onend`. A MutationObserver
records when each fare's item appears. The seconds from a passenger's POST to its fare on screen
and to its sentence handed to the voice are printed and written to tests/e2e/results/soundbox.json.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

from e2e.pwa_helpers import log_in, screenshot, wait_for_image

RESULTS = Path(__file__).resolve().parent / "results"
SPEECH_MS = 300

FAKES = """
(() => {
  const locks = { requested: 0, released: 0, sentinels: [] };
  const record = { spoken: [], cancels: 0, shown: [], locks };
  window.__soundbox = record;
  const voices = (window.__voiceLangs ?? ["id-ID", "en-US"]).map((lang, index) => ({
    name: `Test ${lang}`, lang, localService: true, default: index === 0, voiceURI: `test-${lang}`,
  }));
  class FakeUtterance extends EventTarget {
    constructor(text = "") {
      super();
      Object.assign(this, { text, lang: "", voice: null, volume: 1, rate: 1, pitch: 1 });
    }
  }
  const queue = [];
  const engine = {
    speaking: false, pending: false, paused: false,
    getVoices: () => voices,
    speak(utterance) {
      const { text, lang, voice } = utterance;
      record.spoken.push({ text, lang, voice: voice?.name ?? null, at: Date.now() });
      queue.push(utterance);
      if (!engine.speaking) next();
    },
    cancel() { record.cancels += 1; queue.length = 0; },
    pause() {}, resume() {},
    addEventListener() {}, removeEventListener() {},
  };
  function next() {
    const utterance = queue.shift();
    engine.speaking = Boolean(utterance);
    if (!utterance) return;
    setTimeout(() => { utterance.onend?.(new Event("end")); next(); }, %(speech_ms)d);
  }
  Object.defineProperty(window, "speechSynthesis", { value: engine, configurable: true });
  Object.defineProperty(window, "SpeechSynthesisUtterance", {
    value: FakeUtterance, configurable: true,
  });
  Object.defineProperty(navigator, "wakeLock", { configurable: true, value: {
    async request(type) {
      record.locks.requested += 1;
      const sentinel = new EventTarget();
      Object.assign(sentinel, { type, released: false });
      sentinel.release = async () => {
        if (sentinel.released) return;
        sentinel.released = true;
        record.locks.released += 1;
        sentinel.dispatchEvent(new Event("release"));
      };
      record.locks.sentinels.push(sentinel);
      return sentinel;
    },
  } });
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      if (node.matches?.("li.arrival")) record.shown.push({ id: node.dataset.id, at: Date.now() });
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""


def fakes(voice_langs=("id-ID", "en-US")) -> str:
    return f"window.__voiceLangs = {json.dumps(list(voice_langs))};" + FAKES % {
        "speech_ms": SPEECH_MS
    }


def record(page) -> dict:
    return page.evaluate(
        "() => ({ ...window.__soundbox, locks: { requested: window.__soundbox.locks.requested,"
        " released: window.__soundbox.locks.released } })"
    )


def spoken(page) -> list[dict]:
    return record(page)["spoken"]


def wait_for_spoken(page, count: int, timeout_seconds: float = 10) -> list[dict]:
    """Wait until the fake engine has been handed `count` utterances (page.wait_for_function
    evaluates a string, which the app's CSP forbids)."""
    deadline = time.monotonic() + timeout_seconds
    while len(said := spoken(page)) < count:
        assert time.monotonic() < deadline, f"only {said} spoken"
        time.sleep(0.02)
    return said


def pay(gateway, member_token: str, sticker_token: str, amount: int) -> tuple[float, dict]:
    """A passenger's payment of the sticker; returns (wall-clock seconds at the POST, receipt)."""
    started = time.time()
    status, paid = gateway.call(
        "POST",
        "/api/v1/payments",
        {"token": sticker_token, "amount": amount},
        token=member_token,
        key=uuid.uuid4().hex,
    )
    assert status == 201, paid
    return started, paid


def sticker_of(gateway, merchant: dict) -> str:
    status, sticker = gateway.call(
        "GET", f"/api/v1/merchants/{merchant['id']}/static-qr", token=gateway.login(merchant)
    )
    assert status == 200, sticker
    return sticker["token"]


def open_receive(page, merchant: dict) -> None:
    log_in(page, merchant)
    page.click(".receive-button")
    wait_for_image(page, ".receive-qr-image")


def test_two_fares_at_once_are_two_items_and_two_announcements(page, context, gateway):
    context.add_init_script(fakes())
    driver = gateway.new_merchant(kind="angkot", name="Angkot 12 Soundbox")
    dewi = gateway.new_member(code="KSM", balance=100_000, name="Dewi Lestari")
    budi = gateway.new_member(code="KAM", balance=100_000, name="Budi Santoso")
    sticker = sticker_of(gateway, driver)
    tokens = {person["name"]: gateway.login(person) for person in (dewi, budi)}

    open_receive(page, driver)
    assert page.is_visible(".start-receiving")
    assert page.inner_text(".start-receiving") == "Mulai terima"
    assert "layar tetap menyala" in page.inner_text(".receive-start-note")
    assert page.is_disabled(".repeat-button")
    screenshot(page, "soundbox-1-mulai-terima")

    page.click(".start-receiving")
    page.wait_for_selector(".receive-status:not([hidden])")
    assert page.is_hidden(".start-receiving")
    (greeting,) = wait_for_spoken(page, 1)
    assert greeting["text"] == "Siap menerima pembayaran"
    assert (greeting["lang"], greeting["voice"]) == ("id-ID", "Test id-ID")
    assert record(page)["locks"]["requested"] == 1
    assert page.evaluate("() => localStorage.getItem('receiving')") == driver["id"]
    page.wait_for_selector(".receive-status-line:has-text('Layar tetap menyala')")
    assert "Setiap pembayaran dibacakan" in page.inner_text(".receive-status-line")
    assert page.is_hidden(".voice-note")

    # Two passengers pay the sticker at the same moment.
    fares = {"Dewi Lestari": 4_000, "Budi Santoso": 7_500}
    barrier = threading.Barrier(len(fares))
    outcomes = {}

    def passenger(name: str) -> None:
        barrier.wait()
        outcomes[name] = pay(gateway, tokens[name], sticker, fares[name])

    threads = [threading.Thread(target=passenger, args=(name,)) for name in fares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) == set(fares)

    page.locator(".arrival").nth(1).wait_for()
    said = wait_for_spoken(page, 3)[1:]
    items = page.locator(".arrival")
    assert items.count() == 2
    # The newest on top; each its own item with its amount and its payer's name.
    on_screen = [items.nth(index).inner_text() for index in range(2)]
    ids_on_screen = [items.nth(index).get_attribute("data-id") for index in range(2)]
    by_id = {receipt["id"]: name for name, (_, receipt) in outcomes.items()}
    assert set(ids_on_screen) == set(by_id)
    arrival_order = [by_id[payment_id] for payment_id in reversed(ids_on_screen)]
    for text, payment_id in zip(on_screen, ids_on_screen, strict=True):
        name = by_id[payment_id]
        assert f"Rp {fares[name]:,}".replace(",", ".") in text and name in text, text
    words = {
        "Dewi Lestari": "Diterima empat ribu rupiah dari Dewi Lestari",
        "Budi Santoso": "Diterima tujuh ribu lima ratus rupiah dari Budi Santoso",
    }
    # Spoken one after the other, in the order they arrived (the order of the list).
    assert [utterance["text"] for utterance in said] == [words[name] for name in arrival_order]
    assert all(utterance["lang"] == "id-ID" for utterance in said)
    created = {name: receipt["created_at"] for name, (_, receipt) in outcomes.items()}
    if created["Dewi Lestari"] != created["Budi Santoso"]:
        assert arrival_order == sorted(fares, key=created.get)
    screenshot(page, "soundbox-2-two-fares")

    shown_at = {entry["id"]: entry["at"] / 1000 for entry in record(page)["shown"]}
    concurrent = []
    for name, utterance in zip(arrival_order, said, strict=True):
        started, receipt = outcomes[name]
        concurrent.append(
            {
                "payer": name,
                "amount": fares[name],
                "seconds_to_shown": round(shown_at[receipt["id"]] - started, 3),
                "seconds_to_spoken": round(utterance["at"] / 1000 - started, 3),
            }
        )

    # One fare alone, with nothing queued before it.
    started, receipt = pay(gateway, tokens["Dewi Lestari"], sticker, 3_000)
    page.wait_for_selector(f".arrival[data-id='{receipt['id']}']")
    (alone,) = wait_for_spoken(page, 4)[3:]
    assert alone["text"] == "Diterima tiga ribu rupiah dari Dewi Lestari"
    shown_at = {entry["id"]: entry["at"] / 1000 for entry in record(page)["shown"]}
    single = {
        "payer": "Dewi Lestari",
        "amount": 3_000,
        "seconds_to_shown": round(shown_at[receipt["id"]] - started, 3),
        "seconds_to_spoken": round(alone["at"] / 1000 - started, 3),
    }

    # Ulangi says the last one again; nothing was ever cut off.
    page.click(".repeat-button")
    (again,) = wait_for_spoken(page, 5)[4:]
    assert again["text"] == alone["text"]
    assert record(page)["cancels"] == 0

    # Tapped seen, an item leaves the list; the others stay.
    page.click(f".arrival[data-id='{receipt['id']}'] button")
    page.wait_for_selector(f".arrival[data-id='{receipt['id']}']", state="detached")
    assert page.locator(".arrival").count() == 2

    # The browser lets the wake lock go when the page is hidden: visible again, it is taken again.
    page.evaluate(
        "() => { for (const s of window.__soundbox.locks.sentinels) s.release();"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    deadline = time.monotonic() + 5
    while record(page)["locks"]["requested"] < 2:
        assert time.monotonic() < deadline, record(page)["locks"]
        time.sleep(0.02)

    # A reload: back on the receive screen, the list kept, "Mulai terima" offered again.
    page.reload()
    page.wait_for_selector(".receive-qr .start-receiving")
    assert page.evaluate("() => document.querySelector('.app-main').dataset.screen") == "receive"
    assert "dimuat ulang" in page.inner_text(".receive-start-note")
    page.wait_for_selector(".receive-qr-name:has-text('Angkot 12 Soundbox')")
    assert page.locator(".arrival").count() == 2
    assert page.is_enabled(".repeat-button")
    screenshot(page, "soundbox-3-after-reload")

    # A fare before the tap is shown at once but waits for the tap to be spoken.
    _, waiting = pay(gateway, tokens["Budi Santoso"], sticker, 6_000)
    page.wait_for_selector(f".arrival[data-id='{waiting['id']}']")
    time.sleep(1.0)  # nothing to wait on: the proof is that nothing is said meanwhile
    assert spoken(page) == []
    page.click(".start-receiving")
    said = wait_for_spoken(page, 2)
    assert [utterance["text"] for utterance in said] == [
        "Siap menerima pembayaran",
        "Diterima enam ribu rupiah dari Budi Santoso",
    ]

    # In English the sentence is English, in an English voice.
    page.click(".language-button")
    page.wait_for_selector(".repeat-button:has-text('Repeat')")
    page.click(".repeat-button")
    (english,) = wait_for_spoken(page, 3)[2:]
    assert english["text"] == "Received six thousand rupiah from Budi Santoso"
    assert (english["lang"], english["voice"]) == ("en-GB", "Test en-US")
    screenshot(page, "soundbox-4-english")
    page.click(".language-button")

    # Stopping receiving: the screen may sleep again, and a reload lands on the home screen.
    page.click(".stop-receiving")
    page.wait_for_selector(".start-receiving")
    assert page.evaluate("() => localStorage.getItem('receiving')") is None
    assert record(page)["locks"]["released"] >= 1
    page.reload()
    page.wait_for_selector(".merchant-home")
    assert gateway.ledger_problems() == []

    figures = {
        "what": "seconds from a passenger's POST /payments to the fare on the driver's screen and"
        " to its sentence handed to the voice (fake engine: 300 ms per utterance; 350 ms of"
        " beeps before each)",
        "two_at_once": concurrent,
        "one_alone": single,
    }
    print("soundbox figures:", json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soundbox.json").write_text(json.dumps(figures, indent=2) + "\n")


def test_a_phone_without_an_indonesian_voice_beeps_and_says_so(page, context, gateway):
    context.add_init_script(fakes(voice_langs=("en-US",)))
    driver = gateway.new_merchant(kind="angkot")
    rina = gateway.new_member(code="KTS", balance=50_000, name="Rina Wati")
    sticker = sticker_of(gateway, driver)

    open_receive(page, driver)
    assert "hanya berbunyi beep" in page.inner_text(".voice-note")
    page.click(".start-receiving")
    page.wait_for_selector(".receive-status:not([hidden])")
    assert "hanya beep" in page.inner_text(".receive-status-line")
    _, receipt = pay(gateway, gateway.login(rina), sticker, 5_000)
    page.wait_for_selector(f".arrival[data-id='{receipt['id']}']:has-text('Rp 5.000')")
    assert "Rina Wati" in page.inner_text(".arrival")
    time.sleep(1.0)  # nothing to wait on: the proof is that nothing is said meanwhile
    assert spoken(page) == [], "an English voice never reads Indonesian"
    screenshot(page, "soundbox-5-no-voice")
