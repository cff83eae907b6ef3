// .pay-confirm — who and how much, verified by the gateway; the fare keypad for a sticker; the
// PIN when the amount is above the member's no-PIN threshold; then pay.
//
// Never pay twice: each attempt gets its Idempotency-Key at the tap on Bayar, and the key and what
// it pays are kept (pending.js) from then until the gateway's answer is known. When no answer
// comes back the screen locks: "Coba lagi" resends with the same key (so it only ever replays or
// completes that one payment) and "Batal" asks, then abandons the key (the receipt if the payment
// was made, else it never will be). The same screen resumes such a payment after a reload or a
// language switch (params.pendingKey): it looks the key up first, and a resend needs the PIN
// typed again (it is never stored). A new payment to a merchant with an unresolved one waits
// until the person has checked it, or says this one is new.
//
// A dynamic QR's Bayar turns off when its countdown runs out, as the gateway refuses it from its
// `exp` on; a resend of a locked attempt stays possible (it only replays what came in time).

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { about } from "./MemberHome.js";
import { formatRupiah } from "./money.js";
import {
  abandonPending,
  browserStorage,
  findPending,
  forgetPending,
  isStale,
  lookUpPending,
  pendingEntry,
  phrase,
  rememberPending,
  retryBody,
  settle,
  unresolvedAt,
} from "./pending.js";
import { canPay, formatCountdown, secondsLeft } from "./token.js";
import { formatTime } from "./when.js";

/** No answer, or none to trust: the payment may have been made. */
const outcomeUnknown = (error) => error?.name === "NetworkError" || error?.status >= 500 || error?.status === 401;

export function PayConfirm({ api, t, store, params, me, onLeave }) {
  const storage = browserStorage();
  const language = store.get().language;
  let entry = params.pendingKey ? findPending(storage, params.pendingKey) : null;
  if (entry?.outcome) entry = null;
  if (params.pendingKey && !entry) {
    // Settled meanwhile (another screen, another tab): home shows what is left, never a new payment.
    const gone = h("section", { class: "pay-confirm" });
    setTimeout(() => navigate(gone, "home"));
    return gone;
  }
  const resumed = Boolean(entry); // a payment sent before this screen was made: only its key
  const token = entry ? entry.body.token : params.token;

  const problem = problemLine();
  const warning = h("div", { class: "pay-confirm-warning card", role: "alert", hidden: true });
  const details = h("div", { class: "pay-confirm-details card" }, h("p", {}, t("checking")));
  const amountSlot = h("div", { class: "pay-confirm-amount" });
  const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "off", pattern: "[0-9]{6}", maxlength: "6", required: true, "aria-label": t("enterPin") });
  const pinPrompt = h("span", {}, t("enterPin"));
  const pinLabel = h("label", { class: "pin-label", hidden: true }, pinPrompt, pin);
  const pinNote = h("p", { class: "pin-note", role: "alert", hidden: true }); // tries left, the lock
  const noPinNote = h("p", { class: "no-pin-note", hidden: true });
  const payButton = h("button", { type: "submit", class: "primary", disabled: true }, t("payNow"));
  let cancelAction = () => (locked ? askAbandon() : navigate(root, "home")); // never leaves a locked attempt silently
  const cancelButton = h("button", { type: "button", class: "secondary cancel-button", onclick: () => cancelAction() }, t("cancel"));
  const actions = h("div", { class: "actions" }, cancelButton, payButton);
  const ask = h(
    "div",
    { class: "pay-confirm-abandon card", hidden: true },
    h("p", {}, t("abandonAsk")),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary abandon-no", onclick: () => ((ask.hidden = true), (actions.hidden = false)) }, t("abandonNo")),
      h("button", { type: "button", class: "primary danger abandon-yes", onclick: () => abandon() }, t("abandonYes")),
    ),
  );
  const status = h("p", { class: "pay-confirm-status", "aria-live": "polite" });
  const blockedHint = h("p", { class: "blocked-hint", hidden: true }, t("earlierFirst")); // by Bayar

  let verified = null; // {kind, merchant}: from the gateway, or from the kept entry
  let amount = null;
  let noPinMax = null; // the member's threshold, once read
  let pinDemanded = false; // the gateway asked for a PIN below what the screen knew
  let locked = false; // an attempt's outcome is unknown: only its resend or giving it up
  let busy = false;
  let earlier = []; // unresolved payments of this person to this merchant
  let expiresAt = null; // a dynamic QR's exp (milliseconds)
  let timer = null;
  onLeave(() => clearInterval(timer));

  const needsPin = () => (locked ? entry.hadPin : pinDemanded || noPinMax == null || (amount ?? 0) > noPinMax);
  // A resend of an attempt whose outcome is unknown stays possible after `exp`: it sends the same
  // Idempotency-Key, so it only replays what the gateway answered in time.
  const timeLeft = () => !verified || locked || canPay(verified.kind, expiresAt);
  const guard = () => {
    const showPin = Boolean(verified) && needsPin(); // once the amount and threshold are known
    pinLabel.hidden = !showPin;
    pin.required = showPin;
    const blocked = !locked && earlier.length > 0 && !params.payAnyway;
    blockedHint.hidden = !blocked;
    payButton.disabled = busy || !verified || !store.get().online || !amount || !timeLeft() || blocked;
    cancelButton.disabled = busy; // not while an answer may still come
  };
  onLeave(store.subscribe(guard));

  const showNote = (parts) => {
    pinNote.replaceChildren(...(parts ?? []));
    pinNote.hidden = !parts;
  };
  const update = () => {
    guard();
    noPinNote.hidden = !verified || locked || needsPin() || !amount;
    if (!noPinNote.hidden) noPinNote.textContent = t("noPinNeeded").replace("{amount}", formatRupiah(noPinMax));
  };

  /** The attempt's outcome is not known: keep its key; offer only its resend or giving it up. */
  function lock() {
    locked = true;
    params.pendingKey = entry.key;
    amountSlot.inert = true;
    payButton.textContent = t("tryAgain");
    if (pin.value) pin.readOnly = true; // the PIN that was sent: a resend is the same request
    else pinPrompt.textContent = t("retypePin");
    update();
  }

  /** What a refusal the gateway answered tells the person, the PIN's tries above all. */
  function refused(error) {
    pin.value = "";
    pin.readOnly = false;
    problem.show(sentence(error, t));
    if (error.slug === "wrong-pin" && error.problem.attempts_left === 1) showNote([t("pinTriesLeftLast")]);
    else if (error.slug === "pin-locked" && error.problem.locked_until) {
      showNote(phrase(t("pinLockedUntil"), { time: formatTime(error.problem.locked_until, language) }));
    } else if (error.slug === "pin-required") pinDemanded = true;
  }

  /** The key's outcome is known: show it. */
  function finish(outcome) {
    forgetPending(storage, entry.key);
    delete params.pendingKey;
    if (outcome.kind === "paid") return navigate(root, "receipt", { payment: outcome.receipt, fresh: true });
    if (outcome.kind === "abandoned") return navigate(root, "home", { notice: { key: "abandonedNotice", entry } });
    // Refused: no money moved. A new attempt needs a new key (and, if resumed, a fresh look at the QR).
    locked = false;
    entry = null;
    busy = false;
    status.textContent = "";
    ask.hidden = true;
    actions.hidden = false;
    problem.show(outcome.problem.detail ?? "");
    pin.value = "";
    pin.readOnly = false;
    pinPrompt.textContent = t("enterPin");
    if (resumed) {
      payButton.hidden = true;
      cancelButton.textContent = t("done");
    } else {
      amountSlot.inert = false;
      payButton.textContent = t("payNow");
    }
    update();
  }

  /** Ask the gateway what became of the key; "unknown" keeps the screen locked. */
  async function check(afterRefusal = null) {
    let outcome;
    try {
      outcome = await lookUpPending(api, entry);
    } catch (error) {
      outcome = { kind: "unasked", error }; // no network: still locked, and said so
    }
    busy = false;
    status.textContent = "";
    if (outcome.kind === "paid" || outcome.kind === "refused" || outcome.kind === "abandoned") return finish(outcome);
    if (afterRefusal) refused(afterRefusal);
    else if (outcome.kind === "unasked") problem.show(sentence(outcome.error, t));
    else if (resumed && isStale(entry)) {
      // Too old to resend safely (the gateway may have forgotten the key): see the history.
      problem.show(phrase(t("pendingStale"), about(entry)));
      payButton.hidden = true;
      locked = false;
      verified = null;
      cancelAction = () => navigate(root, "history");
      cancelButton.textContent = t("history");
    } else problem.show(t(resumed ? "stillUnknown" : "unknownOutcome"));
    update();
  }

  function askAbandon() {
    ask.hidden = false;
    actions.hidden = true;
  }

  async function abandon() {
    ask.hidden = true;
    busy = true;
    update();
    status.textContent = t("abandoning");
    let outcome;
    try {
      outcome = await abandonPending(api, entry);
    } catch (error) {
      busy = false;
      status.textContent = "";
      actions.hidden = false;
      problem.show(sentence(error, t));
      update();
      return;
    }
    finish(outcome);
  }

  const form = h(
    "form",
    {
      class: "pay-confirm-form",
      onsubmit: async (event) => {
        event.preventDefault();
        if (busy || payButton.disabled) return;
        const wasLocked = locked;
        let body;
        if (locked) body = retryBody(entry, pin.value);
        else {
          body = { token };
          if (verified.kind === "static") body.amount = amount;
          if (needsPin()) body.pin = pin.value;
        }
        const payment = locked ? api.moneyPost(entry.path, body, { key: entry.key }) : api.moneyPost("/payments", body);
        if (!locked) {
          // A new attempt: its key is kept from now until its outcome is known.
          entry = rememberPending(storage, pendingEntry({ key: payment.key, user: me.id, path: "/payments", body, kind: verified.kind, merchant: verified.merchant, amount }));
          params.pendingKey = entry.key;
        }
        busy = true;
        update();
        problem.show(null);
        showNote(null);
        status.textContent = t("paying");
        try {
          const receipt = await payment.send({ onRetry: () => (status.textContent = t("retrying")) });
          finish({ kind: "paid", receipt });
        } catch (error) {
          status.textContent = "";
          if (outcomeUnknown(error)) {
            busy = false;
            lock();
            problem.show(t("unknownOutcome"));
          } else if (wasLocked) {
            // A resend's refusal is the key's answer only if the gateway stored it (not a wrong
            // PIN typed again, nor a body that differs from the first): ask.
            await check(error);
          } else {
            // The gateway answered this attempt: it made no payment, and its key is done with.
            forgetPending(storage, entry.key);
            delete params.pendingKey;
            entry = null;
            busy = false;
            refused(error);
            update();
          }
        }
      },
    },
    pinLabel,
    pinNote,
    noPinNote,
    status,
    problem,
    blockedHint,
    actions,
    ask,
  );

  const root = h("section", { class: "pay-confirm" }, h("h1", {}, t("confirmTitle")), warning, details, amountSlot, h("p", { class: "fee-free" }, t("feeFree")), form);

  const showDetails = (merchant, cooperative) => // a name each, as shownName() makes it
    fill(
      details,
      h("p", { class: "label" }, t("merchant")),
      h("p", { class: "merchant-name" }, merchant),
      cooperative ? [h("p", { class: "label" }, t("cooperative")), cooperative] : null,
    );
  const showAmount = (value, ...more) => amountSlot.replaceChildren(h("p", { class: "label" }, t("amount")), h("p", { class: "amount-big" }, formatRupiah(value)), ...more);

  /** Warn about an unresolved payment to this merchant; check it meanwhile. */
  function warnAbout(list) {
    earlier = list;
    const first = list[0];
    warning.hidden = !first;
    if (first) {
      const anyway = h("button", { type: "button", class: "secondary warning-anyway", onclick: () => ((params.payAnyway = true), (anyway.hidden = true), update()) }, t("payAnyway"));
      anyway.hidden = Boolean(params.payAnyway);
      warning.replaceChildren(
        h("p", { class: "pay-confirm-warning-text" }, phrase(t("earlierUnresolved"), about(first))),
        h("div", { class: "actions" }, anyway, h("button", { type: "button", class: "primary warning-check", onclick: () => navigate(root, "confirm", { token: first.body.token, pendingKey: first.key }) }, t("check"))),
      );
      lookUpPending(api, first)
        .then((outcome) => {
          if (outcome.kind === "unknown") return;
          settle(storage, first, outcome);
          if (outcome.kind !== "paid") return warnAbout(unresolvedAt(storage, me.id, verified.merchant.id));
          // It was made after all: say so, and still ask before paying again.
          warning.replaceChildren(
            h("p", { class: "pay-confirm-warning-text" }, phrase(t("earlierPaid"), about(first))),
            h("div", { class: "actions" }, anyway, h("button", { type: "button", class: "primary warning-receipt", onclick: () => navigate(root, "receipt", { payment: outcome.receipt, fresh: true }) }, t("seeReceipt"))),
          );
        })
        .catch(() => {});
    }
    update();
  }

  if (resumed) {
    verified = { kind: entry.kind, merchant: entry.merchant };
    amount = entry.amount;
    const { cooperative } = entry.merchant;
    showDetails(shownName(entry.merchant.name), cooperative && h("p", { class: "cooperative-name" }, shownName(cooperative.name)));
    showAmount(amount);
    lock();
    busy = true;
    status.textContent = t("checkingOutcome");
    update();
    check();
    return root;
  }

  (async () => {
    // The threshold is read beside the verification; if it cannot be, the PIN is asked (the
    // gateway accepts a PIN below the threshold too).
    const limits = api.get(`/members/${me.member_id}/limits`).catch(() => null);
    try {
      verified = await api.post("/qr/verify", { token });
    } catch (error) {
      details.replaceChildren(h("p", {}, "—"));
      problem.show(sentence(error, t));
      return;
    }
    noPinMax = (await limits)?.no_pin_max ?? null;
    showDetails(shownName(verified.merchant.name), h("p", { class: "cooperative-name" }, shownName(verified.merchant.cooperative.name)));
    if (verified.kind === "dynamic") {
      amount = verified.amount;
      const countdown = h("p", { class: "countdown" });
      expiresAt = Date.parse(verified.expires_at);
      const tick = () => {
        const left = secondsLeft(expiresAt);
        countdown.textContent = left ? `${t("expiresIn")} ${formatCountdown(left)}` : t("expired");
        if (!left) {
          clearInterval(timer);
          update();
        }
      };
      tick();
      timer = setInterval(tick, 250);
      showAmount(amount, countdown);
    } else {
      amount = params.fare || null;
      const keypad = Keypad({ label: t("enterFare"), t, initial: params.fare ?? 0 });
      keypad.addEventListener("amount", (event) => {
        amount = event.detail.amount || null;
        params.fare = amount;
        update();
      });
      amountSlot.replaceChildren(keypad);
    }
    warnAbout(unresolvedAt(storage, me.id, verified.merchant.id));
  })();
  return root;
}
