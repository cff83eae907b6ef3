// .pay-scan — the camera, started by a tap, and a box to paste or type a QR's link or token. A
// first scan that must fetch the decoder says how much of it has come.

import { h, navigate, problemLine } from "./dom.js";
import { startScanning } from "./scanner.js";
import { tokenFromText } from "./token.js";

export function PayScan({ t, onLeave }) {
  const problem = problemLine();
  const status = h("p", { class: "pay-scan-status", "aria-live": "polite" });
  const video = h("video", { class: "pay-scan-video", playsinline: true, muted: true, autoplay: true, hidden: true });
  let stop = null;
  let starting = null; // {cancelled} while the camera and the decoder start
  const stopCamera = () => {
    if (starting) starting.cancelled = true;
    starting = null;
    stop?.();
    stop = null;
    video.hidden = true;
    status.textContent = "";
    cameraButton.textContent = t("startCamera");
  };
  onLeave(stopCamera);

  const found = (text) => {
    const token = tokenFromText(text);
    if (!token) {
      problem.show(t("notAQr"));
      return false; // keep scanning
    }
    navigate(root, "confirm", { token });
    return true;
  };

  // "Memuat pemindai… 40%": the decoder is still on its way (a first scan before it was cached).
  const loading = (attempt) => (share) => {
    if (attempt.cancelled) return;
    status.textContent = share < 1 ? `${t("loadingScanner")} ${Math.floor(share * 100)}%` : t("scanning");
  };

  const cameraButton = h(
    "button",
    {
      class: "primary pay-scan-start",
      onclick: async () => {
        if (stop || starting) return stopCamera();
        const attempt = (starting = { cancelled: false });
        problem.show(null);
        video.hidden = false;
        status.textContent = t("scanning");
        cameraButton.textContent = t("stopCamera");
        try {
          const stopThis = await startScanning(video, found, { onLoading: loading(attempt) });
          if (attempt.cancelled) return stopThis(); // stopped (or left) while it started
          starting = null;
          stop = stopThis;
          status.textContent = t("scanning");
        } catch (error) {
          if (attempt.cancelled) return;
          console.warn(error);
          stopCamera();
          problem.show(t("cameraFailed"));
        }
      },
    },
    t("startCamera"),
  );
  const pasted = h("textarea", { name: "token", rows: "3", autocomplete: "off", spellcheck: "false" });
  const root = h(
    "section",
    { class: "pay-scan" },
    h("h1", {}, t("scanTitle")),
    h("div", { class: "pay-scan-frame" }, video),
    status,
    cameraButton,
    problem,
    h(
      "form",
      {
        class: "pay-scan-paste",
        onsubmit: (event) => {
          event.preventDefault();
          found(pasted.value);
        },
      },
      h("label", {}, t("pasteLabel"), pasted),
      h("button", { type: "submit", class: "secondary" }, t("next")),
    ),
  );
  return root;
}
