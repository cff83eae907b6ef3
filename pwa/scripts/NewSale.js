// .new-sale — type the amount, show a dynamic QR with its countdown; cancel it, or see it paid.
// What the screen says must be true: the countdown runs on the gateway's clock (read from the
// QR's own `iat`), the QR leaves the screen at `exp`, and the screen keeps listening a few seconds
// more, so that a payment the gateway accepted just in time still turns it LUNAS.

import { h, problemLine, sentence } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { formatRupiah } from "./money.js";
import { decodeToken, formatCountdown, gatewayClock, paidWith, saleState, secondsLeft } from "./token.js";

export function NewSale({ api, t, store, me, onLeave }) {
  const merchantId = me.merchant_ids[0];
  const problem = problemLine();
  const keypad = Keypad({ label: t("amount"), t });
  let amount = 0;
  keypad.addEventListener("amount", (event) => {
    amount = event.detail.amount;
    showButton.disabled = !amount;
  });
  const showButton = h("button", { class: "primary", disabled: true }, t("showQr"));
  const stage = h("div", { class: "new-sale-stage" }, keypad, problem, h("div", { class: "actions" }, showButton));
  const root = h("section", { class: "new-sale" }, h("h1", {}, t("newSale")), stage);
  let timer = null;
  let unsubscribe = null;
  onLeave(() => {
    clearInterval(timer);
    unsubscribe?.();
  });

  showButton.addEventListener("click", async () => {
    showButton.disabled = true;
    problem.show(null);
    let code;
    try {
      code = await api.moneyPost(`/merchants/${merchantId}/qr`, { amount }).send();
    } catch (error) {
      problem.show(sentence(error, t));
      showButton.disabled = false;
      return;
    }
    const expiresAt = Date.parse(code.expires_at);
    const issuedAt = decodeToken(code.token)?.claims?.iat;
    const clock = typeof issuedAt === "number" ? gatewayClock(issuedAt * 1000, Date.now()) : () => Date.now();
    const countdown = h("p", { class: "countdown" });
    const cancelProblem = problemLine();
    const status = h("p", { class: "new-sale-status", role: "status", "aria-live": "assertive" });
    const cancel = h("button", { class: "secondary danger" }, t("cancel"));
    const image = h("img", { class: "new-sale-qr", src: code.svg_url, alt: "QR", width: "300", height: "300" });
    let paid = false;
    let cancelled = false;
    const render = () => {
      const now = clock();
      const state = saleState({ expiresAtMs: expiresAt, nowMs: now, paid, cancelled });
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
      clearInterval(timer);
      unsubscribe?.();
      status.textContent = { paid: `${t("salePaid")} · ${formatRupiah(code.amount)}`, cancelled: t("cancelled"), expired: t("expired") }[state];
    };
    cancel.addEventListener("click", async () => {
      try {
        await api.delete(`/qr/${code.id}`);
        cancelled = true;
        render();
      } catch (error) {
        cancelProblem.show(sentence(error, t));
      }
    });
    // The feed says when it is paid: a payment of this very QR code, in whichever batch it comes,
    // before `exp` or while the screen still listens after it.
    unsubscribe = store.subscribe(({ payments, lastArrival }) => {
      if (!paid && (lastArrival?.qr_id === code.id || paidWith(payments, code.id))) {
        paid = true;
        render();
      }
    });
    stage.replaceChildren(h("p", { class: "amount-big" }, formatRupiah(code.amount)), image, countdown, status, cancelProblem, h("div", { class: "actions" }, cancel));
    render();
    timer = setInterval(render, 250);
  });
  return root;
}
