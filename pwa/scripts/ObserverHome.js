// .observer-home — the city's cooperative office (Dinas Koperasi): the city's figures and each
// cooperative's by Asia/Jakarta month (GET /observer/months), one figure at a time (members,
// active members, volume, payments, cross-cooperative share), each as a bar chart with a table of
// the same numbers under it, and the whole as XLSX or CSV. Aggregates only: a figure the gateway
// withholds (fewer than three people behind it) is shown as "–", never as a number.
// The chosen months and figure live in `params`.

import { dataTable, downloads, formatCount, formatShare } from "./backoffice.js";
import { barChart, compactNumber, monthLabel } from "./chart.js";
import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { formatRupiah } from "./money.js";

export const METRICS = [
  { key: "active_members", label: "metricActiveMembers", kind: "count" },
  { key: "payment_volume", label: "metricVolume", kind: "rupiah" },
  { key: "payment_count", label: "metricPayments", kind: "count" },
  { key: "cross_cooperative_share_bps", label: "metricCrossShare", kind: "share" },
  { key: "members", label: "metricMembers", kind: "count" },
];

// The last answer (whose, to which query), so that a language switch — the same screen again,
// from the same params — draws at once; a new visit, another person or another question asks
// the gateway again.
const answers = new Map();

function formatter(kind, language) {
  if (kind === "rupiah") return (value) => formatRupiah(value);
  if (kind === "share") return (value) => formatShare(value, language);
  return (value) => formatCount(value, language);
}

function axisFormatter(kind, language) {
  if (kind === "share") return (value) => formatShare(value, language, 0);
  return (value) => compactNumber(value, language);
}

/** One chart and its table: the months of `cells` for the chosen figure. */
function Figure({ t, language, title, cells, metric, className }) {
  const format = formatter(metric.kind, language);
  const values = cells.map((cell) => cell[metric.key]);
  const months = cells.map((cell) => monthLabel(cell.month, language));
  const chart = barChart({
    title: `${t(metric.label)} — ${typeof title === "string" ? title : title.textContent}`,
    labels: cells.map((cell) => monthLabel(cell.month, language, { short: true })),
    values,
    format,
    axis: axisFormatter(metric.kind, language),
    max: metric.kind === "share" ? 10_000 : undefined,
    withheldText: t("withheld"),
  });
  const table = dataTable({
    caption: `${t(metric.label)} ${t("perMonth")}`,
    columns: [{ label: t("month") }, { label: t(metric.label), numeric: true }],
    rows: cells.map((cell, index) => [months[index], values[index] === null ? h("span", { class: "withheld-cell", title: t("withheld") }, "– ", h("small", {}, t("withheldShort"))) : format(values[index])]),
  });
  return h("figure", { class: `observer-figure ${className}` }, h("figcaption", {}, h("h2", {}, title)), chart, table);
}

/** The latest month's figures of the city, as the first thing on the screen. */
function Latest({ t, language, cell }) {
  const shown = (key, format) => (cell[key] === null ? "–" : format(cell[key]));
  return h(
    "dl",
    { class: "card observer-latest" },
    h("dt", {}, t("month")),
    h("dd", {}, monthLabel(cell.month, language)),
    ...METRICS.flatMap((metric) => [h("dt", {}, t(metric.label)), h("dd", { class: `latest-${metric.key}` }, shown(metric.key, formatter(metric.kind, language)))]),
  );
}

export function ObserverHome({ api, t, me, params, store }) {
  const language = store?.get().language ?? "id";
  params.metric ??= "payment_volume";
  const problem = problemLine();
  const body = h("div", { class: "observer-figures" });
  const monthInput = (name) => h("input", { type: "month", name, value: params[name] ?? "", min: "2000-01", max: "2100-12" });
  const from = monthInput("from");
  const to = monthInput("to");
  const query = () => {
    const parts = [];
    if (params.from) parts.push(`from=${params.from}`);
    if (params.to) parts.push(`to=${params.to}`);
    return `/observer/months${parts.length ? `?${parts.join("&")}` : ""}`;
  };
  const cacheKey = () => `${me?.id}|${query()}`;

  const tabs = h(
    "div",
    { class: "metric-tabs", role: "group", "aria-label": t("chooseFigure") },
    METRICS.map((metric) =>
      h("button", {
        type: "button",
        class: `metric-tab metric-${metric.key}`,
        "aria-pressed": String(params.metric === metric.key),
        onclick: () => {
          params.metric = metric.key;
          for (const tab of tabs.children) tab.setAttribute("aria-pressed", String(tab.classList.contains(`metric-${metric.key}`)));
          draw();
        },
      }, t(metric.label)),
    ),
  );

  function draw() {
    const figures = answers.get(cacheKey());
    if (!figures) return;
    const metric = METRICS.find((candidate) => candidate.key === params.metric) ?? METRICS[1];
    from.value = figures.from;
    to.value = figures.to;
    fill(
      body,
      Figure({ t, language, title: t("wholeCity"), cells: figures.city, metric, className: "city-figure" }),
      Latest({ t, language, cell: figures.city[figures.city.length - 1] }),
      figures.cooperatives.map((cooperative) =>
        Figure({ t, language, title: h("span", {}, shownName(cooperative.name)), cells: cooperative.months, metric, className: `cooperative-figure cooperative-${cooperative.code}` }),
      ),
    );
  }

  async function load() {
    problem.show(null);
    if (params.shown !== cacheKey() || !answers.has(cacheKey())) {
      fill(body, h("p", { class: "loading-line" }, t("loadingFigures")));
      try {
        const figures = await api.get(query());
        answers.clear();
        answers.set(cacheKey(), figures);
        params.shown = cacheKey();
      } catch (error) {
        fill(body);
        problem.show(sentence(error, t));
        return;
      }
    }
    draw();
  }

  const period = h(
    "form",
    {
      class: "period-form",
      onsubmit: (event) => {
        event.preventDefault();
        params.from = from.value || null;
        params.to = to.value || null;
        answers.clear(); // asked again: fresh figures
        load();
      },
    },
    h("label", {}, t("fromMonth"), from),
    h("label", {}, t("toMonth"), to),
    h("button", { type: "submit", class: "secondary" }, t("show")),
  );

  load();
  return h(
    "section",
    { class: "observer-home backoffice" },
    h("h1", {}, t("observerTitle")),
    tabs,
    problem,
    body,
    h("p", { class: "backoffice-note" }, t("observerNote")),
    period,
    h("h2", {}, t("exportTitle")),
    downloads({ api, t, path: query }),
  );
}
