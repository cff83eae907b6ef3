// .pay-scan — the camera, started by a tap, and a box to paste or type a QR's link or token.

import { h, navigate, problemLine } from "./dom.js";
import { startScanning } from "./scanner.js";
import { tokenFromText } from "./token.js";

export function PayScan({ t, onLeave }) {
  const problem = problemLine();
  const status = h("p", { class: "pay-scan-status", "aria-live": "polite" });
  const video = h("video", { class: "pay-scan-video", playsinline: true, muted: true, autoplay: true, hidden: true });
  let stop = null;
  const stopCamera = () => {
    stop?.();
    stop = null;
    video.hidden = true;
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

  const cameraButton = h(
    "button",
    {
      class: "primary pay-scan-start",
      onclick: async () => {
        if (stop) return stopCamera();
        problem.show(null);
        video.hidden = false;
        status.textContent = t("scanning");
        cameraButton.textContent = t("stopCamera");
        try {
          stop = await startScanning(video, found);
        } catch (error) {
          console.warn(error);
          stopCamera();
          status.textContent = "";
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
