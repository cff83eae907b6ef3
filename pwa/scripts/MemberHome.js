// .member-home — balance, limits left, and the big Bayar button.

import { h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

export function MemberHome({ api, t, me }) {
  const balance = h("p", { class: "member-balance" }, me.wallet_balance == null ? "…" : formatRupiah(me.wallet_balance));
  const limits = h("dl", { class: "member-limits" });
  const problem = problemLine();
  const root = h(
    "section",
    { class: "member-home" },
    h("p", { class: "greeting" }, shownName(me.name)),
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
