// .receive-qr — the merchant's sticker QR full screen on white, the name under it, and each fare
// shown large the moment it is paid. The printable sticker downloads with the merchant's token.

import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

export function ArrivalBanner({ store, onLeave }) {
  const banner = h("p", { class: "arrival", role: "status", "aria-live": "assertive", hidden: true });
  let shown = store.get().lastArrival?.id ?? null;
  let timer = null;
  onLeave(() => clearTimeout(timer));
  onLeave(
    store.subscribe(({ lastArrival }) => {
      if (!lastArrival || lastArrival.id === shown) return;
      shown = lastArrival.id;
      fill(banner, `+ ${formatRupiah(lastArrival.amount)} · `, shownName(lastArrival.payer.name));
      banner.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(() => (banner.hidden = true), 15000);
    }),
  );
  return banner;
}

export function ReceiveQr({ api, t, store, me, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const problem = problemLine();
  const image = h("img", { class: "receive-qr-image", alt: "QR", width: "320", height: "320" });
  const name = h("p", { class: "receive-qr-name" }, shownName(store.get().merchant?.name));
  const sticker = h("a", { class: "secondary button-link", hidden: true, download: "stiker-qr.svg" }, t("sticker"));
  onLeave(() => sticker.href && URL.revokeObjectURL(sticker.href));
  const root = h(
    "section",
    { class: "receive-qr" },
    image,
    name,
    h("p", { class: "receive-qr-hint" }, t("receiveHint")),
    ArrivalBanner({ store, onLeave }),
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
