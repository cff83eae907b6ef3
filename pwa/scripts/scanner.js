// The camera and the QR decoder: the browser's BarcodeDetector when it reads qr_code (Chrome on
// Android), else the vendored barcode-detector ponyfill with its zxing wasm served by us. The wasm
// (1,1 MB, about 360 KB compressed) is fetched by the service worker when the app is idle after
// login (`precacheDecoder`); a first scan that finds it not yet there reports how much has come.

const VENDOR = "/vendor/barcode-detector-3.2.2/";
export const DECODER_FILES = ["barcode-detector-ponyfill.js", "zxing-exported.js", "zxing_reader.wasm"].map((name) => VENDOR + name);
const WASM = `${VENDOR}zxing_reader.wasm`;
// zxing_reader.wasm's size as decoded: the progress bar's 100 % (the Content-Length of a
// compressed answer counts other bytes). tests/e2e/test_pwa_shell.py checks it against the file.
export const WASM_BYTES = 1_093_289;

let native = null; // a promise: does this browser's BarcodeDetector read qr_code?
let vendored = null; // a promise of the ponyfill's module with its wasm compiled
const listeners = new Set(); // onLoading callbacks of the scans waiting for `vendored`

function hasNativeDetector() {
  native ??= (async () => {
    if (!("BarcodeDetector" in globalThis)) return false;
    try {
      return (await globalThis.BarcodeDetector.getSupportedFormats()).includes("qr_code");
    } catch {
      return false;
    }
  })();
  return native;
}

/** Pass the bytes of `response` through, telling each waiting scan the share that has come. */
function counted(response) {
  if (!response.body || typeof TransformStream === "undefined") return response;
  let received = 0;
  const counter = new TransformStream({
    transform(chunk, controller) {
      received += chunk.byteLength;
      for (const listener of listeners) listener(Math.min(received / WASM_BYTES, 0.99));
      controller.enqueue(chunk);
    },
  });
  return new Response(response.body.pipeThrough(counter), { headers: { "Content-Type": "application/wasm" } });
}

async function loadVendored() {
  const wasm = fetch(WASM, { credentials: "same-origin" }); // along with the scripts, not after
  wasm.catch(() => {});
  const module = await import(`${VENDOR}barcode-detector-ponyfill.js`);
  let failed;
  const failure = new Promise((_, reject) => (failed = reject));
  module.setZXingModuleOverrides({
    locateFile: (path, prefix) => (path.endsWith(".wasm") ? `${VENDOR}${path}` : prefix + path),
    // Compile while the bytes arrive, counting them (emscripten's own loader reports nothing).
    instantiateWasm(imports, receive) {
      wasm
        .then(async (response) => {
          if (!response.ok) throw new Error(`${WASM}: HTTP ${response.status}`);
          if (WebAssembly.instantiateStreaming) return WebAssembly.instantiateStreaming(counted(response), imports);
          return WebAssembly.instantiate(await response.arrayBuffer(), imports);
        })
        .then(({ instance, module: compiled }) => receive(instance, compiled), failed);
      return {};
    },
  });
  try {
    await Promise.race([module.prepareZXingModule({ fireImmediately: true }), failure]);
  } catch (error) {
    module.purgeZXingModule(); // the next scan tries again from the start
    throw error;
  }
  return module;
}

/** The decoder: native where the browser has one for qr_code, else ours; `onLoading(share)`
 * hears how much of our decoder has arrived, from 0 to 1, while it loads. */
export async function createDetector({ onLoading } = {}) {
  if (await hasNativeDetector()) return new globalThis.BarcodeDetector({ formats: ["qr_code"] });
  if (onLoading) listeners.add(onLoading);
  try {
    if (!vendored) {
      for (const listener of listeners) listener(0);
      vendored = loadVendored();
      vendored.catch(() => (vendored = null));
    }
    const module = await vendored;
    onLoading?.(1);
    return new module.BarcodeDetector({ formats: ["qr_code"] });
  } finally {
    listeners.delete(onLoading);
  }
}

/** True when this browser needs our decoder (it has no BarcodeDetector that reads qr_code). */
export async function needsDecoder() {
  return !(await hasNativeDetector());
}

/**
 * Have the decoder fetched ahead of the first scan, quietly: by the service worker into its
 * decoder cache (at low priority; once it is active, which on a first visit on a slow network
 * can be after login), or where there is none into the HTTP cache (the files are immutable).
 * Nothing where the browser has its own detector or the person asked to save data. Never throws.
 */
export async function precacheDecoder() {
  try {
    if (navigator.connection?.saveData || !(await needsDecoder())) return false;
    if (globalThis.isSecureContext && navigator.serviceWorker) {
      (await navigator.serviceWorker.ready).active?.postMessage({ type: "precache-decoder" });
    } else {
      for (const url of DECODER_FILES) await (await fetch(url, { priority: "low" })).arrayBuffer();
    }
    return true;
  } catch (error) {
    console.warn("decoder precache", error);
    return false;
  }
}

/**
 * Start the rear camera in `video` and call `onText` with the first QR text read.
 * Returns stop(). Must be called from a tap: iOS opens the camera only then. The decoder loads
 * while the camera starts; `onLoading(share)` hears its progress if it has to be fetched.
 */
export async function startScanning(video, onText, { intervalMs = 200, onLoading } = {}) {
  const detecting = createDetector({ onLoading });
  detecting.catch(() => {}); // awaited below, once the camera is on
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  const release = () => {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  let detector;
  try {
    video.srcObject = stream;
    video.muted = true;
    video.setAttribute("playsinline", "");
    await video.play();
    detector = await detecting;
  } catch (error) {
    release();
    throw error;
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stopped = false;
  let timer = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    release();
  };

  const tick = async () => {
    if (stopped) return;
    try {
      if (video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        const found = await detector.detect(context.getImageData(0, 0, canvas.width, canvas.height));
        const text = found.find((code) => code.rawValue)?.rawValue;
        if (text && !stopped && onText(text) !== false) return stop();
      }
    } catch (error) {
      console.warn("scan failed", error);
    }
    timer = setTimeout(tick, intervalMs);
  };
  tick();
  return stop;
}
