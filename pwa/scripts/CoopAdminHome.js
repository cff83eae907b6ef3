// .coop-admin-home — a cooperative's admin: the cooperative's report for a period (GET
// /cooperatives/{id}/report: fee income by partner, payments on-us and across cooperatives,
// the counter's cash), downloadable as XLSX or CSV, and the way to the cooperative's other
// screens: import, SHU and shift, each where this app has it (`knows`),
// so it never offers a screen that is not there. The chosen days live in `params`.

import { dataTable, downloads, formatCount } from "./backoffice.js";
import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";
import { jakartaDay } from "./state.js";

// The cooperative's other screens, in the order shown; each only where the app has it. (The
// counter desk is a home of its own: the header's role button goes there.)
export const COOPERATIVE_SCREENS = [
  { screen: "import", label: "linkImport" },
  { screen: "shu", label: "linkShu" },
  { screen: "shift", label: "linkShift" },
];

/** The screens of COOPERATIVE_SCREENS that `knows(screen)` says the app has. */
export function offeredScreens(knows) {
  return COOPERATIVE_SCREENS.filter(({ screen }) => knows(screen));
}

function Report({ t, language, report, names }) {
  const partner = (id) => h("span", {}, names.get(id)?.code ?? "?", " ", h("span", { class: "muted" }, shownName(names.get(id)?.name ?? id)));
  const volumeRow = (label, figures) => [label, formatCount(figures.count, language), formatRupiah(figures.volume)];
  const cashRow = (label, figures) => [label, formatCount(figures.count, language), formatRupiah(figures.amount)];
  const made = report.payments_made_by_members;
  const received = report.payments_received_by_merchants;
  const counter = report.counter;
  return [
    h(
      "dl",
      { class: "card report-totals" },
      h("dt", {}, t("feeIncomeTotal")),
      h("dd", { class: "fee-income-total" }, formatRupiah(report.fee_income_total)),
      h("dt", {}, t("metricActiveMembers")),
      h("dd", { class: "report-active" }, `${formatCount(report.active_members, language)} / ${formatCount(report.members, language)}`),
    ),
    // Per partner: the total, and under the partner's name what it came from (as issuer, as
    // acquirer): three amounts side by side do not fit a phone.
    dataTable({
      caption: t("feeIncomeByPartner"),
      columns: [{ label: t("partner") }, { label: t("total"), numeric: true }],
      rows: report.fee_income_by_partner.length
        ? report.fee_income_by_partner.map((row) => [
            h("span", {}, partner(row.partner_cooperative_id), h("span", { class: "fee-income-sides" }, `${t("asIssuer")} ${formatRupiah(row.as_issuer)} · ${t("asAcquirer")} ${formatRupiah(row.as_acquirer)}`)),
            formatRupiah(row.total),
          ])
        : [[t("noneInPeriod"), "–"]],
      className: "fee-income-table",
    }),
    dataTable({
      caption: t("volumeCaption"),
      columns: [{ label: "" }, { label: t("count"), numeric: true }, { label: t("metricVolume"), numeric: true }],
      rows: [
        volumeRow(t("madeOnUs"), made.on_us),
        volumeRow(t("madeCross"), made.cross_cooperative),
        volumeRow(t("receivedCross"), received.cross_cooperative),
      ],
      className: "volume-table",
    }),
    dataTable({
      caption: t("counterCashCaption"),
      columns: [{ label: "" }, { label: t("entries"), numeric: true }, { label: t("amount"), numeric: true }],
      rows: [
        cashRow(t("cashInOwn"), counter.cash_in.own_members),
        cashRow(t("cashInPartner"), counter.cash_in.partner_members),
        cashRow(t("cashOutOwn"), counter.cash_out.own_members),
        cashRow(t("cashOutPartner"), counter.cash_out.partner_members),
      ],
      className: "counter-cash-table",
    }),
  ];
}

export function CoopAdminHome({ api, t, me, params, store, knows = () => false }) {
  const language = store?.get().language ?? "id";
  const cooperativeId = me.admin_cooperative_ids[0];
  const today = jakartaDay(new Date());
  params.from ??= `${today.slice(0, 8)}01`;
  params.to ??= today;
  const problem = problemLine();
  const body = h("div", { class: "coop-report" }, h("p", { class: "loading-line" }, t("loadingFigures")));
  const title = h("p", { class: "coop-admin-cooperative" });
  const dayInput = (name) => h("input", { type: "date", name, value: params[name], min: "2000-01-01", max: "2100-12-31" });
  const from = dayInput("from");
  const to = dayInput("to");
  const path = () => `/cooperatives/${cooperativeId}/report?from=${params.from}&to=${params.to}`;

  async function load() {
    problem.show(null);
    try {
      const [report, cooperatives] = await Promise.all([api.get(path()), api.get("/cooperatives")]);
      const names = new Map(cooperatives.items.map((cooperative) => [cooperative.id, cooperative]));
      fill(title, shownName(names.get(cooperativeId)?.name ?? cooperativeId));
      fill(body, Report({ t, language, report, names }));
    } catch (error) {
      fill(body);
      problem.show(sentence(error, t));
    }
  }

  const links = offeredScreens(knows);
  load();
  return h(
    "section",
    { class: "coop-admin-home backoffice" },
    h("h1", {}, t("coopAdminTitle")),
    title,
    h(
      "nav",
      { class: "coop-links", "aria-label": t("coopScreens") },
      links.map(({ screen, label }) => h("button", { type: "button", class: `secondary coop-link link-${screen}`, onclick: (event) => navigate(event.currentTarget, screen) }, t(label))),
    ),
    h(
      "form",
      {
        class: "period-form",
        onsubmit: (event) => {
          event.preventDefault();
          params.from = from.value || params.from;
          params.to = to.value || params.to;
          load();
        },
      },
      h("label", {}, t("fromDay"), from),
      h("label", {}, t("toDay"), to),
      h("button", { type: "submit", class: "secondary" }, t("show")),
    ),
    problem,
    body,
    h("h2", {}, t("exportTitle")),
    downloads({ api, t, path }),
  );
}
