// .receive-qr — the merchant's sticker QR full screen on white, the name under it, and the list of
// fares that arrived, each its own item until the merchant taps it seen. "Mulai terima" allows
// sound, keeps the screen on (a wake lock while this screen shows) and keeps the phone in
// receiving mode over a reload; "Ulangi" says the last fare again. The printable sticker
// downloads with the merchant's token.

import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { speechSupport } from "./feedback.js";
import { formatRupiah } from "./money.js";
import { receivingFor, receivingNow, repeatLast, seen, startReceiving, stopReceiving } from "./soundbox.js";
import { formatTime } from "./when.js";

/** Keep the screen on while wanted: taken again when the page is visible again (the browser lets
 * it go whenever the page is hidden). `onChange(held)` hears each change. */
function screenWakeLock(onChange) {
  let sentinel = null;
  let wanted = false;
  let asking = false;
  async function acquire() {
    if (!wanted || sentinel || asking || document.visibilityState !== "visible") return;
    if (!navigator.wakeLock) return onChange(false);
    asking = true;
    try {
      const lock = await navigator.wakeLock.request("screen");
      if (!wanted) return void lock.release();
      sentinel = lock;
      lock.addEventListener("release", () => {
        if (sentinel === lock) sentinel = null;
        onChange(false);
      });
      onChange(true);
    } catch {
      onChange(false);
    } finally {
      asking = false;
    }
  }
  document.addEventListener("visibilitychange", acquire);
  return {
    hold() {
      wanted = true;
      acquire();
    },
    release() {
      wanted = false;
      sentinel?.release().catch(() => {});
      sentinel = null;
    },
    stop() {
      this.release();
      document.removeEventListener("visibilitychange", acquire);
    },
  };
}

export function ArrivalList({ t, store, onLeave }) {
  const list = h("ul", { class: "arrivals", "aria-live": "polite" });
  const allSeen = h("button", { class: "secondary all-seen", hidden: true, onclick: () => seen() }, t("allSeen"));
  const repeat = h("button", { class: "secondary repeat-button", disabled: true, onclick: () => repeatLast() }, t("repeat"));
  let shown = null;
  const render = ({ arrivals, language }) => {
    repeat.disabled = !arrivals?.last;
    if (arrivals?.unseen === shown) return;
    shown = arrivals?.unseen ?? null;
    const items = [...(shown ?? [])].reverse(); // the newest on top
    list.replaceChildren(
      ...items.map((item) =>
        h(
          "li",
          { class: "arrival", dataset: { id: item.id } },
          h(
            "button",
            { class: "arrival-item", title: t("tapSeen"), onclick: () => seen(item.id) },
            h("span", { class: "arrival-amount" }, `+ ${formatRupiah(item.amount)}`),
            h("span", { class: "arrival-payer" }, shownName(item.name)),
            h("span", { class: "arrival-time" }, formatTime(item.created_at ?? item.arrived_at, language)),
          ),
        ),
      ),
    );
    allSeen.hidden = items.length < 2;
  };
  render(store.get());
  onLeave(store.subscribe(render));
  return h("div", { class: "arrival-list" }, list, h("div", { class: "actions arrival-actions" }, repeat, allSeen));
}

export function ReceiveQr({ api, t, store, me, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const problem = problemLine();
  const image = h("img", { class: "receive-qr-image", alt: "QR", width: "320", height: "320" });
  const name = h("p", { class: "receive-qr-name" });
  // After a reload this screen shows before the app has read the merchant's name.
  let named = null;
  const showName = ({ merchant }) => {
    if (merchant === named) return;
    named = merchant;
    fill(name, shownName(merchant?.name));
  };
  showName(store.get());
  onLeave(store.subscribe(showName));
  const sticker = h("a", { class: "secondary button-link", hidden: true, download: "stiker-qr.svg" }, t("sticker"));
  onLeave(() => sticker.href && URL.revokeObjectURL(sticker.href));

  // Receiving mode: the start panel until "Mulai terima" is tapped on this page, then a status line.
  const startNote = h("p", { class: "receive-start-note" });
  const startButton = h("button", { class: "primary start-receiving" }, t("startReceiving"));
  const voiceNote = h("p", { class: "voice-note", hidden: true }, t("noVoice"));
  const start = h("div", { class: "receive-start" }, startButton, startNote, voiceNote);
  const statusLine = h("p", { class: "receive-status-line" });
  const stopButton = h("button", { class: "text-button stop-receiving" }, t("stopReceiving"));
  const status = h("div", { class: "receive-status", role: "status" }, statusLine, stopButton);
  let screenOn = null; // null: not asked yet; then whether the wake lock is held
  const wakeLock = screenWakeLock((held) => {
    screenOn = held;
    render();
  });
  onLeave(() => wakeLock.stop());

  function render() {
    const receiving = receivingNow();
    start.hidden = receiving;
    status.hidden = !receiving;
    startNote.textContent = receivingFor() === merchantId ? t("receiveAgain") : t("receiveStartHint");
    const speechless = speechSupport(store.get().language) === "none";
    voiceNote.hidden = !speechless;
    statusLine.textContent = [
      t("receivingOn"),
      speechless ? t("beepsOnly") : t("readAloud"),
      screenOn === true && t("screenKeptOn"),
      screenOn === false && t("screenMaySleep"),
    ].filter(Boolean).join(" ");
  }
  startButton.addEventListener("click", () => {
    const { language } = store.get();
    startReceiving({ greeting: t("readyToReceive"), language });
    wakeLock.hold();
    render();
  });
  stopButton.addEventListener("click", () => {
    stopReceiving();
    wakeLock.release();
    screenOn = null;
    render();
  });
  // Voices load late in some browsers: say "no voice" only once they are known.
  globalThis.speechSynthesis?.addEventListener?.("voiceschanged", render);
  onLeave(() => globalThis.speechSynthesis?.removeEventListener?.("voiceschanged", render));
  if (receivingNow()) wakeLock.hold(); // back on this screen while receiving: the screen stays on
  render();

  const root = h(
    "section",
    { class: "receive-qr" },
    start,
    image,
    name,
    h("p", { class: "receive-qr-hint" }, t("receiveHint")),
    ArrivalList({ t, store, onLeave }),
    status,
    problem,
    sticker,
  );
  (async () => {
    try {
      const code = await api.get(`/merchants/${merchantId}/static-qr`);
      image.src = code.svg_url;
      const response = await fetch(`/api/v1/merchants/${merchantId}/sticker.svg`, { headers: { Authorization: `Bearer ${api.session.accessToken}` } });
      if (response.ok) {
        sticker.href = URL.createObjectURL(await response.blob());
        sticker.hidden = false;
      }
    } catch (error) {
      problem.show(sentence(error, t));
    }
  })();
  return root;
}
