// .import-screen — a cooperative admin moves a member (or merchant) list in: choose the CSV or
// XLSX file, see the dry run's report (counts, each bad row with its column and reason), import
// the valid rows, then print the PIN slips of the new logins, one sheet at a time.
//
// What the screen keeps in `params` (JSON, kept in the browser's history entry) is the kind and
// the last report only. The chosen file and the slips live beside params in a WeakMap: a file is
// not JSON, and the slips hold clear PINs, which must never reach the history entry or any
// storage. They are in this page's memory while the screen is up (a language switch keeps them)
// and are dropped when the admin clears them or leaves the screen: each PIN is shown once.

import { fill, h, problemLine, sentence } from "./dom.js";

const beside = new WeakMap(); // params → {file, slips}
const SLIPS_PER_SHEET = 50;

function counts(t, report) {
  const { new: created, existing, invited, bad } = report.counts;
  return h(
    "dl",
    { class: "import-counts" },
    h("dt", {}, t("importRows")), h("dd", { "data-count": "rows" }, String(report.rows)),
    h("dt", {}, t("importNew")), h("dd", { "data-count": "new" }, String(created)),
    h("dt", {}, t("importExisting")), h("dd", { "data-count": "existing" }, String(existing)),
    h("dt", {}, t("importInvited")), h("dd", { "data-count": "invited" }, String(invited)),
    h("dt", {}, t("importBad")), h("dd", { "data-count": "bad" }, String(bad)),
  );
}

function problemsTable(t, language, report) {
  if (!report.problems.length) return null;
  const reason = (note) => (language === "en" ? note.reason_en : note.reason_id);
  return h(
    "table",
    { class: "import-problems" },
    h("caption", {}, t("importBadRows")),
    h("thead", {}, h("tr", {}, h("th", {}, t("importRow")), h("th", {}, t("importColumn")), h("th", {}, t("importReason")))),
    h("tbody", {}, report.problems.map((note) => h("tr", {}, h("td", {}, String(note.row)), h("td", {}, note.column), h("td", {}, reason(note))))),
  );
}

function slipSheet(t, cooperativeName, slips) {
  return h(
    "div",
    { class: "pin-slips" },
    slips.map((slip) =>
      h(
        "section",
        { class: "pin-slip" },
        h("strong", {}, cooperativeName),
        h("span", { class: "pin-slip-who" }, h("bdi", {}, slip.name), ` · ${slip.phone}`),
        h("span", { class: "pin-slip-pin" }, slip.pin),
        h("span", { class: "pin-slip-note" }, t("slipNote")),
      ),
    ),
  );
}

export function ImportScreen({ api, t, me, params, store }) {
  const language = store?.get().language ?? "id";
  const coop = me.admin_cooperative_ids[0];
  const kept = beside.get(params) ?? {};
  beside.set(params, kept);
  params.kind ??= "members";
  if (!params.cooperativeName) {
    api.get("/cooperatives").then(
      (answer) => {
        params.cooperativeName = answer.items.find((item) => item.id === coop)?.name ?? "";
        render();
      },
      () => {},
    );
  }
  const problem = problemLine();
  const result = h("div", { class: "import-result", "aria-live": "polite" });
  const slipsArea = h("div", { class: "import-slips" });

  const kind = h(
    "select",
    { name: "kind", onchange: () => { params.kind = kind.value; params.report = null; render(); } },
    h("option", { value: "members", selected: params.kind === "members" }, t("importMembers")),
    h("option", { value: "merchants", selected: params.kind === "merchants" }, t("importMerchants")),
  );
  const file = h("input", {
    name: "file", type: "file", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    onchange: () => { kept.file = file.files[0] ?? null; params.report = null; render(); },
  });
  const checkButton = h("button", { type: "button", class: "primary", onclick: () => send(false) }, t("importCheck"));
  const commitButton = h("button", { type: "button", class: "primary import-commit", onclick: () => send(true) });

  async function send(commit) {
    if (!kept.file) return problem.show(t("importChooseFile"));
    problem.show(null);
    checkButton.disabled = commitButton.disabled = true;
    const form = new FormData();
    form.append("file", kept.file, kept.file.name);
    try {
      const path = `/cooperatives/${coop}/${params.kind}/import${commit ? "?commit=true" : ""}`;
      params.report = await api.upload(path, form);
    } catch (error) {
      problem.show(sentence(error, t));
      params.report = null;
    } finally {
      checkButton.disabled = false;
      render();
    }
  }

  async function printSlips() {
    problem.show(null);
    const button = slipsArea.querySelector("button");
    if (button) button.disabled = true;
    try {
      const sheet = await api.post(`/cooperatives/${coop}/pin-slips?limit=${SLIPS_PER_SHEET}`);
      kept.slips = sheet.slips;
      if (params.report) params.report.pins_to_issue = sheet.remaining;
      render();
      if (sheet.slips.length) globalThis.print?.();
    } catch (error) {
      problem.show(sentence(error, t));
      if (button) button.disabled = false;
    }
  }

  const chosen = h("p", { class: "import-file-name" });

  function render() {
    chosen.textContent = kept.file ? `${t("importChosen")}: ${kept.file.name}` : "";
    const report = params.report;
    if (!report) {
      fill(result);
    } else {
      const heading = report.committed ? t("importDone") : t("importDryRun");
      fill(result, h("h2", {}, heading), counts(t, report), problemsTable(t, language, report));
    }
    const writable = report && !report.committed && report.counts.new + report.counts.invited > 0;
    commitButton.hidden = !writable;
    commitButton.disabled = !writable;
    if (writable) commitButton.textContent = `${t("importCommit")} (${report.counts.new + report.counts.invited})`;
    const waiting = report?.committed ? report.pins_to_issue : 0;
    fill(
      slipsArea,
      kept.slips?.length
        ? [
            h("h2", {}, t("slipsTitle")),
            h("p", { class: "slips-warning" }, t("slipsWarning")),
            h("button", { type: "button", class: "primary", onclick: () => globalThis.print?.() }, t("slipsPrint")),
            h("button", { type: "button", class: "text-button", onclick: () => { kept.slips = null; render(); } }, t("slipsClear")),
            slipSheet(t, params.cooperativeName ?? "", kept.slips),
          ]
        : null,
      waiting > 0 && !kept.slips?.length
        ? [h("p", {}, `${t("slipsWaiting")}: ${waiting}`), h("button", { type: "button", class: "primary slips-issue", onclick: printSlips }, `${t("slipsIssue")} (${Math.min(waiting, SLIPS_PER_SHEET)})`)]
        : null,
    );
  }

  const view = h(
    "section",
    { class: "import-screen" },
    h("h1", {}, t("importTitle")),
    h("p", {}, t("importNote")),
    h("label", {}, t("importKind"), kind),
    h("label", {}, t("importFile"), file),
    chosen,
    checkButton,
    problem,
    result,
    commitButton,
    slipsArea,
  );
  render();
  return view;
}
