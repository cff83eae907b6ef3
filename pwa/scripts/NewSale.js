// .new-sale — type the amount, show a dynamic QR with its countdown; cancel it, or see it paid;
// then "Penjualan baru" starts the next sale on the same screen.
// What the screen says must be true: the countdown runs on the gateway's clock (read from the
// QR's own `iat`), the QR leaves the screen at `exp`, and the screen keeps listening a few seconds
// more, so that a payment the gateway accepted just in time still turns it LUNAS.
// The sale lives in params (the amount typed, the QR as the gateway issued it, when the phone
// received it, how it ended), so a screen re-created on a language switch shows the same QR and
// the same countdown, not a new QR.

import { h, problemLine, sentence } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { formatRupiah } from "./money.js";
import { decodeToken, formatCountdown, gatewayClock, paidWith, saleState, secondsLeft } from "./token.js";

export function NewSale({ api, t, store, me, params, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const stage = h("div", { class: "new-sale-stage" });
  const root = h("section", { class: "new-sale" }, h("h1", {}, t("newSale")), stage);
  let left = false;
  let stopSale = () => {};
  onLeave(() => {
    left = true;
    stopSale();
  });

  function typeAmount() {
    const problem = problemLine();
    const keypad = Keypad({ label: t("amount"), t, initial: params.amount ?? 0 });
    const showButton = h("button", { class: "primary", disabled: !(params.amount > 0) }, t("showQr"));
    keypad.addEventListener("amount", (event) => {
      params.amount = event.detail.amount;
      showButton.disabled = !params.amount;
    });
    showButton.addEventListener("click", async () => {
      showButton.disabled = true;
      problem.show(null);
      let code;
      try {
        code = await api.moneyPost(`/merchants/${merchantId}/qr`, { amount: params.amount }).send();
      } catch (error) {
        problem.show(sentence(error, t));
        showButton.disabled = false;
        return;
      }
      if (left) return;
      Object.assign(params, { sale: code, saleSeenAt: Date.now(), saleOutcome: null });
      showSale();
    });
    stage.replaceChildren(keypad, problem, h("div", { class: "actions" }, showButton));
  }

  function showSale() {
    const code = params.sale;
    const expiresAt = Date.parse(code.expires_at);
    const issuedAt = decodeToken(code.token)?.claims?.iat;
    const clock = typeof issuedAt === "number" ? gatewayClock(issuedAt * 1000, params.saleSeenAt ?? Date.now()) : () => Date.now();
    const countdown = h("p", { class: "countdown" });
    const cancelProblem = problemLine();
    const status = h("p", { class: "new-sale-status", role: "status", "aria-live": "assertive" });
    const cancel = h("button", { class: "secondary danger" }, t("cancel"));
    const again = h("button", { class: "primary new-sale-again", hidden: true }, t("newSale"));
    const image = h("img", { class: "new-sale-qr", src: code.svg_url, alt: "QR", width: "300", height: "300" });
    let timer = null;
    let unsubscribe = null;
    stopSale = () => {
      clearInterval(timer);
      unsubscribe?.();
    };
    const render = () => {
      const now = clock();
      const state = saleState({
        expiresAtMs: expiresAt,
        nowMs: now,
        paid: params.saleOutcome === "paid",
        cancelled: params.saleOutcome === "cancelled",
      });
      countdown.textContent = formatCountdown(secondsLeft(expiresAt, now));
      if (state === "open") return;
      countdown.hidden = true;
      cancel.hidden = true;
      // No one may scan a QR that can no longer be paid; a paid one stays, faded, as proof.
      image.hidden = state !== "paid";
      image.classList.add("done");
      status.classList.toggle("paid", state === "paid");
      if (state === "checking") {
        status.textContent = t("saleChecking");
        return;
      }
      stopSale();
      status.textContent = { paid: `${t("salePaid")} · ${formatRupiah(code.amount)}`, cancelled: t("cancelled"), expired: t("expired") }[state];
      again.hidden = false;
    };
    cancel.addEventListener("click", async () => {
      try {
        await api.delete(`/qr/${code.id}`);
        if (params.saleOutcome !== "paid") params.saleOutcome = "cancelled";
        render();
      } catch (error) {
        cancelProblem.show(sentence(error, t));
      }
    });
    again.addEventListener("click", () => {
      stopSale();
      Object.assign(params, { amount: 0, sale: null, saleSeenAt: null, saleOutcome: null });
      typeAmount();
    });
    // The feed says when it is paid: a payment of this very QR code, in whichever batch it comes,
    // before `exp` or while the screen still listens after it (or before this screen was made).
    const check = ({ payments }) => {
      if (params.saleOutcome !== "paid" && paidWith(payments, code.id)) {
        params.saleOutcome = "paid";
        render();
      }
    };
    unsubscribe = store.subscribe(check);
    stage.replaceChildren(
      h("p", { class: "amount-big" }, formatRupiah(code.amount)),
      image,
      countdown,
      status,
      cancelProblem,
      h("div", { class: "actions" }, cancel, again),
    );
    check(store.get());
    render();
    if (!again.hidden) return; // it ended already
    timer = setInterval(render, 250);
  }

  if (params.sale) showSale();
  else typeAmount();
  return root;
}
