// .member-home — balance, limits left, and the big Bayar button. Above them, every payment of
// this person whose outcome is not known yet (pending.js): "Pembayaran Rp 4.000 ke X belum
// pasti" with Periksa (the confirm screen looks it up, and can resend it) and Batalkan (asks,
// then abandons the key: the receipt if it was made, else it never will be).

import { h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";
import { abandonPending, browserStorage, forgetPending, isStale, pendingOf, phrase, settle } from "./pending.js";

/** "Rp 4.000" and the merchant's name, for a sentence about an entry. */
export function about(entry) {
  return { amount: entry.amount == null ? "—" : formatRupiah(entry.amount), name: shownName(entry.merchant.name) };
}

function PendingPayment({ api, t, entry, storage, onSettled, root }) {
  const problem = problemLine();
  const refused = entry.outcome?.kind === "refused";
  const stale = !refused && isStale(entry);
  const text = h(
    "p",
    { class: "pending-payment-text" },
    phrase(t(refused ? "pendingRefused" : stale ? "pendingStale" : "pendingBanner"), about(entry)),
    refused && entry.outcome.detail ? ` ${entry.outcome.detail}` : null,
  );
  const dismiss = () => {
    forgetPending(storage, entry.key);
    onSettled();
  };
  const ask = h(
    "div",
    { class: "pending-payment-ask", hidden: true },
    h("p", {}, t("abandonAsk")),
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary pending-abandon-no", onclick: () => ((ask.hidden = true), (buttons.hidden = false)) }, t("abandonNo")),
      h("button", { class: "primary danger pending-abandon-yes", onclick: () => abandon() }, t("abandonYes")),
    ),
  );
  const buttons = h(
    "div",
    { class: "actions" },
    refused || stale
      ? [
          stale ? h("button", { class: "secondary pending-history", onclick: () => navigate(root, "history") }, t("history")) : null,
          h("button", { class: "secondary pending-dismiss", onclick: dismiss }, t("dismiss")),
        ]
      : [
          h("button", { class: "secondary pending-abandon", onclick: () => ((ask.hidden = false), (buttons.hidden = true)) }, t("abandon")),
          h("button", { class: "primary pending-check", onclick: () => navigate(root, "confirm", { token: entry.body.token, pendingKey: entry.key }) }, t("check")),
        ],
  );
  async function abandon() {
    ask.hidden = true;
    problem.show(t("abandoning"));
    let outcome;
    try {
      outcome = settle(storage, entry, await abandonPending(api, entry));
    } catch (error) {
      problem.show(sentence(error, t));
      buttons.hidden = false;
      return;
    }
    if (outcome.kind === "paid") navigate(root, "receipt", { payment: outcome.receipt, fresh: true });
    else onSettled(outcome.kind === "abandoned" ? { key: "abandonedNotice", entry } : null);
  }
  return h("div", { class: `card pending-payment${refused ? " refused" : ""}`, role: "status" }, text, problem, buttons, ask);
}

export function MemberHome({ api, t, me, params = {} }) {
  const storage = browserStorage();
  const balance = h("p", { class: "member-balance" }, me.wallet_balance == null ? "…" : formatRupiah(me.wallet_balance));
  const limits = h("dl", { class: "member-limits" });
  const problem = problemLine();
  const pending = h("div", { class: "pending-payments" });
  const notice = h("p", { class: "member-notice", role: "status", hidden: true });
  const showPending = (settled) => {
    if (settled !== undefined) params.notice = settled;
    notice.hidden = !params.notice;
    if (params.notice) notice.replaceChildren(...phrase(t(params.notice.key), about(params.notice.entry)));
    pending.replaceChildren(...pendingOf(storage, me.id).map((entry) => PendingPayment({ api, t, entry, storage, root, onSettled: showPending })));
  };
  const root = h(
    "section",
    { class: "member-home" },
    h("p", { class: "greeting" }, shownName(me.name)),
    notice,
    pending,
    h("div", { class: "card" }, h("h2", {}, t("balance")), balance),
    h("div", { class: "card" }, h("h2", {}, t("limitsLeft")), limits),
    problem,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "secondary", onclick: () => navigate(root, "history") }, t("history")),
      h("button", { class: "primary pay-button", onclick: () => navigate(root, "scan") }, t("pay")),
      h("button", { class: "secondary card-button", onclick: () => navigate(root, "card") }, t("memberCard")),
    ),
  );
  showPending();
  (async () => {
    try {
      const [wallet, left] = await Promise.all([
        api.get(`/members/${me.member_id}/wallet`),
        api.get(`/members/${me.member_id}/limits`),
      ]);
      balance.textContent = formatRupiah(wallet.balance);
      limits.replaceChildren(
        h("dt", {}, t("dailyLeft")), h("dd", {}, formatRupiah(left.daily_remaining)),
        h("dt", {}, t("monthlyLeft")), h("dd", {}, formatRupiah(left.monthly_remaining)),
        h("dt", {}, t("perPayment")), h("dd", {}, formatRupiah(left.payment_max)),
      );
    } catch (error) {
      problem.show(sentence(error, t));
    }
  })();
  return root;
}
