// The service worker: the app shell precached under a versioned cache, so the app opens offline.
// Never /api/: money and balances are network-only, so an offline screen can never show a stale
// payment as done. Bump VERSION whenever a file of the shell changes.

const VERSION = "v6";
const SHELL_CACHE = `interkop-shell-${VERSION}`;
const DECODER_CACHE = "interkop-decoder-barcode-detector-3.2.2";

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
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      await cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })));
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
    event.respondWith(cacheFirst(DECODER_CACHE, request));
    return;
  }
  event.respondWith(caches.match(request).then((cached) => cached ?? fetch(request)));
});

async function cacheFirst(name, request) {
  const cache = await caches.open(name);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}
