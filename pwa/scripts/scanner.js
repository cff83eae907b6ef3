// The camera and the QR decoder: the browser's BarcodeDetector when it reads qr_code (Chrome on
// Android), else the vendored barcode-detector ponyfill with its zxing wasm served by us.

const VENDOR = "/vendor/barcode-detector-3.2.2/";

async function nativeDetector() {
  if (!("BarcodeDetector" in globalThis)) return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new globalThis.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

async function vendoredDetector() {
  const module = await import(`${VENDOR}barcode-detector-ponyfill.js`);
  module.setZXingModuleOverrides({
    locateFile: (path, prefix) => (path.endsWith(".wasm") ? `${VENDOR}${path}` : prefix + path),
  });
  return new module.BarcodeDetector({ formats: ["qr_code"] });
}

export async function createDetector() {
  return (await nativeDetector()) ?? (await vendoredDetector());
}

/**
 * Start the rear camera in `video` and call `onText` with the first QR text read.
 * Returns stop(). Must be called from a tap: iOS opens the camera only then.
 */
export async function startScanning(video, onText, { intervalMs = 200 } = {}) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  video.srcObject = stream;
  video.muted = true;
  video.setAttribute("playsinline", "");
  await video.play();
  const detector = await createDetector();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stopped = false;
  let timer = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
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
