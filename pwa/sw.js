// The service worker: the app shell precached under a versioned cache, so the app opens offline.
// Never /api/: money and balances are network-only, so an offline screen can never show a stale
// payment as done. Bump VERSION whenever a file of the shell changes.
//
// The QR decoder (only browsers without a native BarcodeDetector need it) is not part of the
// install: the app asks for it with a "precache-decoder" message when it is idle after login, and
// it is fetched at low priority into its own cache, kept across versions (its folder is versioned).

const VERSION = "v9";
const SHELL_CACHE = `interkop-shell-${VERSION}`;
const DECODER_CACHE = "interkop-decoder-barcode-detector-3.2.2";
const DECODER = ["barcode-detector-ponyfill.js", "zxing-exported.js", "zxing_reader.wasm"].map(
  (name) => `/vendor/barcode-detector-3.2.2/${name}`,
);
// A decoder file on its way from the network: the cache gets one reading of its bytes, and the
// first page that asks meanwhile the other (the bytes already come, then the rest as they come),
// so a scan that starts during the precache neither downloads it twice nor waits without progress.
const downloading = new Map(); // path → {spare: Promise<Response>, taken, done}

const SHELL = [
  "/",
  "/index.html",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/maskable-512.png",
  "/styles/base.css",
  "/styles/screens.css",
  "/styles/merchant.css",
  "/styles/print.css",
  "/scripts/main.js",
  "/scripts/App.js",
  "/scripts/api.js",
  "/scripts/dom.js",
  "/scripts/feed.js",
  "/scripts/feedback.js",
  "/scripts/i18n.js",
  "/scripts/lookup.js",
  "/scripts/money.js",
  "/scripts/pending.js",
  "/scripts/scanner.js",
  "/scripts/state.js",
  "/scripts/token.js",
  "/scripts/when.js",
  "/scripts/arrivals.js",
  "/scripts/soundbox.js",
  "/scripts/terbilang.js",
  "/scripts/CounterDesk.js",
  "/scripts/History.js",
  "/scripts/Keypad.js",
  "/scripts/LoginScreen.js",
  "/scripts/MemberCard.js",
  "/scripts/MemberHome.js",
  "/scripts/MerchantHome.js",
  "/scripts/NewSale.js",
  "/scripts/PayConfirm.js",
  "/scripts/PayScan.js",
  "/scripts/Receipt.js",
  "/scripts/ReceiveQr.js",
  "/scripts/ShuScreen.js",
  "/scripts/shu.js",
  "/scripts/DownloadButton.js",
  "/styles/backoffice.css",
  "/scripts/backoffice.js",
  "/scripts/chart.js",
  "/scripts/CoopAdminHome.js",
  "/scripts/ObserverHome.js",
  "/scripts/OperatorHome.js",
  "/scripts/ImportScreen.js",
  "/scripts/ShiftScreen.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // Revalidated, not fetched again: the page has just loaded most of these, and a 304 costs
      // a slow phone no body. Every file is checked with the server, so none is stale.
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: "no-cache" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const keep = new Set([SHELL_CACHE, DECODER_CACHE]);
      for (const name of await caches.keys()) if (!keep.has(name)) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/.well-known/")) return; // network only
  if (request.mode === "navigate") {
    // Always the newest shell when online; the cached one offline (also for /pay#<token>).
    event.respondWith(fetch(request).catch(async () => (await caches.match("/index.html")) ?? Response.error()));
    return;
  }
  if (url.pathname.startsWith("/vendor/")) {
    event.respondWith(decoderFile(request, url.pathname));
    return;
  }
  event.respondWith(caches.match(request).then((cached) => cached ?? fetch(request)));
});

let precachingDecoder = null; // one precache at a time, however many pages ask

self.addEventListener("message", (event) => {
  if (event.data?.type !== "precache-decoder") return;
  precachingDecoder ??= precacheDecoder().finally(() => (precachingDecoder = null));
  event.waitUntil(precachingDecoder);
});

function download(path, priority) {
  let giveSpare;
  const entry = { spare: new Promise((resolve) => (giveSpare = resolve)), taken: false };
  entry.done = fetch(path, { priority })
    .then(async (response) => {
      if (!response.ok || !response.body) return giveSpare(response);
      const [kept, spare] = response.body.tee();
      giveSpare(new Response(spare, response));
      await (await caches.open(DECODER_CACHE)).put(path, new Response(kept, response));
    })
    .catch(() => giveSpare(Response.error()))
    .finally(() => {
      downloading.delete(path);
      if (!entry.taken) entry.spare.then((response) => response.body?.cancel()).catch(() => {});
    });
  downloading.set(path, entry);
  return entry;
}

async function decoderFile(request, path) {
  const coming = downloading.get(path);
  if (coming && !coming.taken) {
    coming.taken = true;
    return coming.spare;
  }
  const cached = await (await caches.open(DECODER_CACHE)).match(request);
  if (cached) return cached;
  if (coming || !DECODER.includes(path)) return fetch(request); // a second reader at once: its own
  const mine = download(path, "high");
  mine.taken = true;
  return mine.spare;
}

async function precacheDecoder() {
  const cache = await caches.open(DECODER_CACHE);
  for (const path of DECODER) {
    if (downloading.has(path) || (await cache.match(path))) continue;
    await download(path, "low").done;
  }
}
