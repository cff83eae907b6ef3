// .counter-desk — a cooperative's teller: register members and merchants, cash in and out for a
// member of any partner cooperative, pay out a merchant's takings.

import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

const PIN_FIELD = { type: "password", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: "6" };
const AMOUNT_FIELD = { type: "text", inputmode: "numeric", pattern: "[0-9.]+" };

function field(label, name, attributes = {}) {
  if (attributes.options) {
    return h("label", {}, label, h("select", { name }, attributes.options.map((value) => h("option", { value }, value))));
  }
  return h("label", {}, label, h("input", { name, required: true, autocomplete: "off", ...attributes }));
}

function values(form) {
  const data = Object.fromEntries(new FormData(form));
  if ("amount" in data) data.amount = Number(String(data.amount).replace(/\D/g, ""));
  return data;
}

/** One collapsible form: its fields, a submit that calls `run(data)`, and a result line. */
function Desk({ title, fields, run, describe, t, className }) {
  const problem = problemLine();
  const result = h("p", { class: "counter-result", role: "status" });
  const button = h("button", { type: "submit", class: "primary" }, t("submit"));
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        problem.show(null);
        result.textContent = "";
        button.disabled = true;
        try {
          fill(result, describe(await run(values(form))));
          form.reset();
        } catch (error) {
          problem.show(sentence(error, t));
        } finally {
          button.disabled = false;
        }
      },
    },
    fields,
    problem,
    result,
    button,
  );
  return h("details", { class: `counter-form ${className}` }, h("summary", {}, title), form);
}

export function CounterDesk({ api, t, me }) {
  const coop = me.admin_cooperative_ids[0];
  // A money-moving form keeps its Idempotency-Key while the same request is retried.
  const money = (path) => {
    let prepared = null;
    return async (data) => {
      if (!prepared || JSON.stringify(prepared.body) !== JSON.stringify(data)) prepared = { body: data, ...api.moneyPost(path, data) };
      const answer = await prepared.send();
      prepared = null;
      return answer;
    };
  };
  const balanceLine = (receipt) => `${t("saved")} ${t("balanceAfter")}: ${formatRupiah(receipt.balance)}`;
  return h(
    "section",
    { class: "counter-desk" },
    h("h1", {}, t("counterTitle")),
    Desk({
      t, className: "cash-in", title: t("cashIn"),
      fields: [field(t("memberId"), "member_id"), field(t("amount"), "amount", AMOUNT_FIELD)],
      run: money("/counter/cash-in"), describe: balanceLine,
    }),
    Desk({
      t, className: "cash-out", title: t("cashOut"),
      fields: [field(t("memberId"), "member_id"), field(t("amount"), "amount", AMOUNT_FIELD), field(t("memberPin"), "pin", PIN_FIELD)],
      run: money("/counter/cash-out"), describe: balanceLine,
    }),
    Desk({
      t, className: "payout", title: t("payout"),
      fields: [field(t("merchantId"), "merchant_id"), field(t("amount"), "amount", AMOUNT_FIELD)],
      run: money("/counter/payouts"), describe: () => t("saved"),
    }),
    Desk({
      t, className: "register-member", title: t("registerMember"),
      fields: [field(t("phone"), "phone", { type: "tel", value: "+62" }), field(t("name"), "name"), field(t("pin"), "pin", PIN_FIELD), field(t("tier"), "tier", { options: ["basic", "verified"] })],
      run: (data) => api.post(`/cooperatives/${coop}/members`, data), describe: (member) => (member.object === "invitation" ? `${t("invited")} ${member.id}` : [`${t("saved")} `, shownName(member.name), `: ${member.id}`]),
    }),
    Desk({
      t, className: "register-merchant", title: t("registerMerchant"),
      fields: [
        field(t("name"), "name"),
        field(t("kind"), "kind", { options: ["shop", "angkot", "taxi", "other"] }),
        field(t("category"), "category", { options: ["micro", "small", "regular"] }),
        field(t("ownerPhone"), "owner_phone", { type: "tel", value: "+62" }),
        field(t("ownerName"), "owner_name"),
        field(t("ownerPin"), "owner_pin", PIN_FIELD),
      ],
      run: (data) => api.post(`/cooperatives/${coop}/merchants`, data), describe: (merchant) => (merchant.object === "invitation" ? `${t("invited")} ${merchant.id}` : [`${t("saved")} `, shownName(merchant.name), `: ${merchant.id}`]),
    }),
    h("details", { class: "counter-form sticker" }, h("summary", {}, t("sticker")), h("p", {}, t("stickerNote"))),
  );
}
