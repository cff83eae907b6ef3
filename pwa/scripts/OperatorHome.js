// .operator-home — the network operator: the settlement windows (close the open one, verify a
// sealed window's digest against its transfers, each cooperative's position and each pair's
// figures, mark it settled, download the statement as XLSX or CSV) and the fee rules (the
// default, the on-us rule, each cooperative pair's), each of which it can set. Every figure is
// the gateway's (GET /settlement/windows, /fee-schedules); closing and settling ask once more
// before they are done. Which window is open, and what is typed in the fee form, live in `params`.

import { dataTable, downloads, formatCount, formatShare } from "./backoffice.js";
import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";
import { formatDateTime } from "./when.js";

/** A button that asks "sure?" with a second button before it runs `action`. */
function confirmed({ t, label, question, className, action }) {
  const root = h("div", { class: `confirmed-action ${className}` });
  const ask = () =>
    fill(
      root,
      h("p", { class: "confirm-question" }, question),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary confirm-no", onclick: idle }, t("cancel")),
        h("button", { type: "button", class: "primary confirm-yes", onclick: () => action(root) }, t("yesDoIt")),
      ),
    );
  function idle() {
    fill(root, h("button", { type: "button", class: "secondary", onclick: ask }, label));
  }
  idle();
  return root;
}

function statusLabel(t, status) {
  return t(`window${status.charAt(0).toUpperCase()}${status.slice(1)}`);
}

function Window({ api, t, language, window, params, reload }) {
  const problem = problemLine();
  const verdict = h("p", { class: "seal-verdict", role: "status" });
  const sealed = window.status === "closed" || window.status === "settled";
  const rows = (window.positions ?? []).map((line) => [
    h("span", {}, line.code, " ", h("span", { class: "muted" }, shownName(line.name))),
    line.pays ? formatRupiah(line.pays) : "–",
    line.receives ? formatRupiah(line.receives) : "–",
  ]);
  // A pair's gross beside it, and under it the count, fees and refunds: five columns do not fit.
  const pairs = (window.pairs ?? []).map((pair) => [
    h(
      "span",
      {},
      `${pair.issuer_code} → ${pair.acquirer_code}`,
      h(
        "span",
        { class: "pair-detail" },
        `${formatCount(pair.count, language)} ${t("paymentsCounted")} · ${t("fees")} ${formatRupiah(pair.fee_issuer + pair.fee_acquirer + pair.fee_network)}`,
        pair.refund_count ? ` · ${t("refunds")} ${formatRupiah(pair.refunds)}` : "",
      ),
    ),
    formatRupiah(pair.gross),
  ]);
  const verify = h("button", {
    type: "button",
    class: "secondary verify-button",
    onclick: async () => {
      verify.disabled = true;
      verdict.className = "seal-verdict";
      verdict.textContent = t("verifying");
      try {
        const answer = await api.get(`/settlement/windows/${window.id}/verify`);
        verdict.classList.add("ok");
        verdict.textContent = t("sealVerified").replace("{count}", formatCount(answer.transfer_count, language));
      } catch (error) {
        verdict.classList.add("bad");
        verdict.textContent = sentence(error, t);
      } finally {
        verify.disabled = false;
      }
    },
  }, t("verifySeal"));
  const details = h(
    "details",
    { class: `settlement-window window-${window.status}`, open: params.open === window.id, dataset: { window: window.id } },
    h(
      "summary",
      {},
      h("span", { class: "window-id mono" }, window.id),
      h("span", { class: `window-status status-${window.status}` }, statusLabel(t, window.status)),
      h("span", { class: "window-when" }, formatDateTime(window.closed_at ?? window.opened_at, language)),
    ),
    h(
      "dl",
      { class: "window-facts" },
      h("dt", {}, t("openedAt")),
      h("dd", {}, formatDateTime(window.opened_at, language)),
      window.closed_at && [h("dt", {}, t("closedAt")), h("dd", {}, formatDateTime(window.closed_at, language))],
      window.settled_at && [h("dt", {}, t("settledAt")), h("dd", {}, formatDateTime(window.settled_at, language))],
      sealed && [h("dt", {}, t("transfers")), h("dd", { class: "window-transfers" }, formatCount(window.transfer_count, language))],
      sealed && [h("dt", {}, t("networkFeeIncome")), h("dd", {}, formatRupiah(window.network_position ?? 0))],
    ),
    sealed && h("p", { class: "window-digest" }, h("span", { class: "label" }, "SHA-256 "), h("span", { class: "mono" }, window.digest)),
    sealed && verify,
    sealed && verdict,
    sealed &&
      dataTable({
        caption: t("positionsCaption"),
        columns: [{ label: t("cooperative") }, { label: t("pays"), numeric: true }, { label: t("receives"), numeric: true }],
        rows,
        className: "positions-table",
      }),
    sealed &&
      dataTable({
        caption: t("pairsCaption"),
        columns: [{ label: t("pair") }, { label: t("gross"), numeric: true }],
        rows: pairs,
        className: "pairs-table",
      }),
    window.status === "open" && h("p", { class: "backoffice-note" }, t("windowOpenNote")),
    window.status === "closed" &&
      confirmed({
        t,
        label: t("markSettled"),
        question: t("markSettledQuestion"),
        className: "settle-action",
        action: async (root) => {
          problem.show(null);
          try {
            await api.post(`/settlement/windows/${window.id}/settle`, {});
            params.open = window.id;
            reload();
          } catch (error) {
            problem.show(sentence(error, t));
            root.querySelector(".confirm-no")?.click();
          }
        },
      }),
    problem,
    sealed && downloads({ api, t, path: `/settlement/windows/${window.id}`, paths: { csv: `/settlement/windows/${window.id}.csv` } }),
  );
  details.addEventListener("toggle", () => {
    if (details.open) params.open = window.id;
    else if (params.open === window.id) params.open = null;
  });
  return details;
}

/** A fee rule's lines: each category's rate (and free band), the minimum and maximum, the split. */
function ruleLines(t, rule, language) {
  const category = (name) => {
    const { bps, free_up_to: free } = rule.categories[name];
    return free ? `${formatShare(bps, language, 2)} (${t("feeFreeUpTo")} ${formatRupiah(free)})` : formatShare(bps, language, 2);
  };
  const split = [rule.split_issuer_bps, rule.split_acquirer_bps, rule.split_network_bps].map((bps) => formatShare(bps, language, 0)).join(" / ");
  return [
    [t("categoryMicro"), category("micro")],
    [t("categorySmall"), category("small")],
    [t("categoryRegular"), category("regular")],
    [t("feeLimits"), `${formatRupiah(rule.fee_min)} – ${rule.fee_max === null ? "∞" : formatRupiah(rule.fee_max)}`],
    [t("feeSplit"), split],
  ];
}

const RULE_FIELDS = [
  ["micro_bps", "categoryMicro", (rule) => rule.categories.micro.bps],
  ["micro_free_up_to", "feeMicroFreeUpTo", (rule) => rule.categories.micro.free_up_to],
  ["small_bps", "categorySmall", (rule) => rule.categories.small.bps],
  ["regular_bps", "categoryRegular", (rule) => rule.categories.regular.bps],
  ["fee_min", "feeMin", (rule) => rule.fee_min],
  ["fee_max", "feeMax", (rule) => rule.fee_max ?? ""],
  ["split_issuer_bps", "splitIssuer", (rule) => rule.split_issuer_bps],
  ["split_acquirer_bps", "splitAcquirer", (rule) => rule.split_acquirer_bps],
  ["split_network_bps", "splitNetwork", (rule) => rule.split_network_bps],
];

/** The rule a form's fields spell, as PUT /fee-schedules takes it (whole numbers only). */
export function ruleFromFields(fields) {
  const number = (name) => (String(fields[name] ?? "").trim() === "" ? null : Number(String(fields[name]).replace(/\./g, "")));
  const rule = {
    categories: {
      micro: { bps: number("micro_bps"), free_up_to: number("micro_free_up_to") ?? 0 },
      small: { bps: number("small_bps"), free_up_to: 0 },
      regular: { bps: number("regular_bps"), free_up_to: 0 },
    },
    fee_min: number("fee_min") ?? 0,
    fee_max: number("fee_max"),
    split_issuer_bps: number("split_issuer_bps"),
    split_acquirer_bps: number("split_acquirer_bps"),
    split_network_bps: number("split_network_bps"),
  };
  return rule;
}

function FeeSchedule({ api, t, language, schedules, cooperatives, params, reload }) {
  const codes = new Map(cooperatives.map((cooperative) => [cooperative.id, cooperative.code]));
  const scopeName = (schedule) =>
    schedule.scope === "pair" ? `${codes.get(schedule.issuer_cooperative_id) ?? "?"} → ${codes.get(schedule.acquirer_cooperative_id) ?? "?"}` : t(schedule.scope === "on_us" ? "feeOnUs" : "feeDefault");
  const keyOf = (schedule) => (schedule.scope === "pair" ? [schedule.issuer_cooperative_id, schedule.acquirer_cooperative_id] : schedule.scope === "on_us" ? ["on-us", "on-us"] : ["default", "default"]);
  const form = params.fee ?? {};
  params.fee = form;
  const problem = problemLine();
  const saved = h("p", { class: "fee-saved", role: "status" });
  const options = [["default", t("feeDefault")], ["on-us", t("feeOnUs")], ...cooperatives.map((cooperative) => [cooperative.id, cooperative.code])];
  const select = (name, label) =>
    h("label", {}, label, h("select", { name, onchange: (event) => (form[name] = event.target.value) }, options.map(([value, text]) => h("option", { value, selected: form[name] === value }, text))));
  const editor = h(
    "form",
    {
      class: "fee-form",
      oninput: (event) => event.target.name && (form[event.target.name] = event.target.value),
      onsubmit: async (event) => {
        event.preventDefault();
        problem.show(null);
        saved.textContent = "";
        const fields = Object.fromEntries(new FormData(editor));
        Object.assign(form, fields);
        try {
          await api.put(`/fee-schedules/${fields.issuer}/${fields.acquirer}`, ruleFromFields(fields));
          form.saved = true;
          reload();
        } catch (error) {
          problem.show(sentence(error, t));
        }
      },
    },
    h("div", { class: "fee-pair" }, select("issuer", t("issuer")), select("acquirer", t("acquirer"))),
    h("p", { class: "backoffice-note" }, t("feeFormNote")),
    h(
      "div",
      { class: "fee-fields" },
      RULE_FIELDS.map(([name, label]) => h("label", {}, t(label), h("input", { name, type: "text", inputmode: "numeric", value: form[name] ?? "", autocomplete: "off" }))),
    ),
    problem,
    h("button", { type: "submit", class: "primary" }, t("feeSave")),
    saved,
  );
  if (form.saved) {
    saved.textContent = t("feeSaved");
    form.saved = false;
  }
  const edit = (schedule) => {
    const [issuer, acquirer] = keyOf(schedule);
    Object.assign(form, { issuer, acquirer }, Object.fromEntries(RULE_FIELDS.map(([name, , read]) => [name, String(read(schedule.rule))])));
    for (const [name, value] of Object.entries(form)) if (editor.elements[name]) editor.elements[name].value = value ?? "";
    editor.elements.issuer.focus();
  };
  if (!form.issuer) edit({ scope: "default", rule: schedules.items.find((s) => s.scope === "default")?.rule ?? schedules.built_in_default });
  const card = (title, rule, schedule) =>
    h(
      "div",
      { class: "card fee-rule", dataset: { scope: title } },
      h("p", { class: "fee-rule-title" }, title),
      h("dl", {}, ruleLines(t, rule, language).flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)])),
      schedule && h("button", { type: "button", class: "secondary fee-edit", onclick: () => edit(schedule) }, t("feeEdit")),
    );
  return [
    h("p", { class: "backoffice-note" }, t("feeLookupNote")),
    ...schedules.items.map((schedule) => card(scopeName(schedule), schedule.rule, schedule)),
    card(t("feeBuiltIn"), schedules.built_in_default, null),
    h("h2", {}, t("feeSetTitle")),
    editor,
  ];
}

export function OperatorHome({ api, t, params, store }) {
  const language = store?.get().language ?? "id";
  const problem = problemLine();
  const windows = h("div", { class: "window-list" }, h("p", { class: "loading-line" }, t("loadingFigures")));
  const fees = h("div", { class: "fee-schedule" });
  const closeProblem = problemLine();

  async function reload() {
    try {
      const [list, schedules, cooperatives] = await Promise.all([api.get("/settlement/windows"), api.get("/fee-schedules"), api.get("/cooperatives")]);
      fill(windows, list.items.length ? list.items.map((window) => Window({ api, t, language, window, params, reload })) : h("p", { class: "empty" }, t("noWindows")));
      fill(fees, FeeSchedule({ api, t, language, schedules, cooperatives: cooperatives.items, params, reload }));
    } catch (error) {
      problem.show(sentence(error, t));
    }
  }

  const close = confirmed({
    t,
    label: t("closeWindow"),
    question: t("closeWindowQuestion"),
    className: "close-action",
    action: async (root) => {
      closeProblem.show(null);
      try {
        const window = await api.post("/settlement/windows/current/close", {});
        params.open = window.id;
        await reload();
      } catch (error) {
        closeProblem.show(sentence(error, t));
      }
      root.querySelector(".confirm-no")?.click();
    },
  });

  reload();
  return h(
    "section",
    { class: "operator-home backoffice" },
    h("h1", {}, t("operatorTitle")),
    problem,
    h("h2", {}, t("windowsTitle")),
    close,
    closeProblem,
    windows,
    h("h2", {}, t("feesTitle")),
    fees,
  );
}
