// .download-button — a button that fetches a report file from the gateway (with the session's
// token, so not a plain link) and hands it to the phone as a download named as the gateway named
// it. While it is asked the button says "…"; a refusal shows the gateway's sentence beside it.

import { h, problemLine, sentence } from "./dom.js";

/** A button labelled `label()` that downloads `path()` (both read when pressed). */
export function DownloadButton({ api, t, label, path, fallbackName }) {
  const problem = problemLine();
  const button = h("button", { type: "button", class: "secondary download-button" });
  const show = () => (button.textContent = label());
  button.addEventListener("click", async () => {
    problem.show(null);
    button.disabled = true;
    button.textContent = "…";
    try {
      const file = await api.download(path());
      const url = URL.createObjectURL(file.blob);
      const link = h("a", { href: url, download: file.name ?? fallbackName, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      problem.show(sentence(error, t));
    } finally {
      button.disabled = false;
      show();
    }
  });
  show();
  return Object.assign(h("div", { class: "download" }, button, problem), { relabel: show });
}
