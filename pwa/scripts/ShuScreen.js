// .shu-screen — a cooperative admin's SHU: the AD/ART's split and weights, the members' savings
// imported from the office's CSV or XLSX, a simulation for a year and a pool (nothing saved), a
// run saved for the RAT and approved once (then locked), each downloadable as XLSX. Everything
// typed and shown lives in `params`, so a language switch brings the screen back as it was.

import { ApiError, NetworkError } from "./api.js";
import { fill, h, problemLine, sentence, shownName } from "./dom.js";
import { amountFromDigits, formatRupiah } from "./money.js";
import { bpsToPercent, importErrorLine, policyFromPercents } from "./shu.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const ROWS_SHOWN = 100; // a slow phone draws a hundred rows; the file has them all
const ERRORS_SHOWN = 50; // the first bad rows of an import: fix them, check again
const POLICY_FIELDS = [
  ["jasa_usaha_bps", "shuJasaUsaha"],
  ["jasa_modal_bps", "shuJasaModal"],
  ["wallet_payments_weight_bps", "shuWeightWallet"],
  ["own_merchant_purchases_weight_bps", "shuWeightOwn"],
  ["merchant_takings_weight_bps", "shuWeightTakings"],
];

/** What the screen keeps of a basis or a run: the rows it shows (params live in the history
 * entry, which must stay small), the totals, and how many members there are. */
const kept = (basis) => ({ ...basis, members: basis.members.slice(0, ROWS_SHOWN), member_count: basis.member_count ?? basis.members.length });

/** A sentence with {placeholders} filled in. */
const said = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));

/** fetch with the session's token, for what api.js does not send: a file up, a file down. */
async function sendRaw(api, language, path, init = {}) {
  if (api.session && Date.now() > api.session.expiresAt - 30_000) await api.refresh();
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      ...init,
      headers: { ...init.headers, Authorization: `Bearer ${api.session?.accessToken}`, "Accept-Language": language },
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (cause) {
    throw new NetworkError(cause);
  }
  if (!response.ok) throw new ApiError(await response.json().catch(() => null), response.status);
  return response;
}

function field(label, name, props = {}) {
  return h("label", {}, label, h("input", { name, ...props }));
}

export function ShuScreen({ api, t, me, params, store }) {
  const language = store?.get().language ?? "id";
  const coop = me.admin_cooperative_ids[0];
  const base = `/cooperatives/${coop}/shu`;
  params.year ??= String(new Date().getFullYear() - 1);
  params.pool ??= "";

  const yearInput = h("input", {
    name: "year", type: "text", inputmode: "numeric", pattern: "[0-9]{4}", maxlength: "4", value: params.year,
    oninput: () => (params.year = yearInput.value.trim()),
  });
  const yearProblem = problemLine();
  const year = () => {
    const value = Number(params.year);
    const valid = /^[0-9]{4}$/.test(params.year) && value >= 2000 && value <= 2100;
    yearProblem.show(valid ? null : t("shuBadYear"));
    return valid ? value : null;
  };

  async function download(path, filename, problem) {
    problem.show(null);
    try {
      const response = await sendRaw(api, language, path, { headers: { Accept: XLSX } });
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (error) {
      problem.show(sentence(error, t));
    }
  }

  // --- the AD/ART's rules --------------------------------------------------------------------
  function PolicyForm() {
    const problem = problemLine();
    const note = h("p", { class: "shu-saved", role: "status" });
    const inputs = POLICY_FIELDS.map(([name, label]) =>
      field(t(label), name, {
        type: "text", inputmode: "decimal", value: params.percents?.[name] ?? "",
        oninput: (event) => ((params.percents ??= {})[name] = event.target.value),
      }),
    );
    if (!params.percents) {
      api.get(`${base}/policy`).then(
        (policy) => {
          if (params.percents) return; // typed meanwhile: what the person typed stays
          params.percents = Object.fromEntries(POLICY_FIELDS.map(([name]) => [name, bpsToPercent(policy[name], language)]));
          POLICY_FIELDS.forEach(([name], index) => (inputs[index].querySelector("input").value = params.percents[name]));
        },
        (error) => problem.show(sentence(error, t)),
      );
    }
    const save = async (event) => {
      event.preventDefault();
      problem.show(null);
      note.textContent = "";
      const { policy, whole, invalid } = policyFromPercents(params.percents ?? {});
      if (invalid || !policy) return problem.show(t("shuNotPercent"));
      if (!whole) return problem.show(t("shuSplitNotWhole"));
      try {
        await api.put(`${base}/policy`, policy);
        note.textContent = t("shuSaved");
      } catch (error) {
        problem.show(sentence(error, t));
      }
    };
    return h("form", { class: "shu-policy", onsubmit: save }, h("p", { class: "label" }, t("shuPolicyNote")), inputs, problem, note, h("button", { type: "submit", class: "secondary" }, t("shuSave")));
  }

  // --- the members' savings ------------------------------------------------------------------
  function SavingsForm() {
    const problem = problemLine();
    const report = h("div", { class: "shu-import-report", role: "status" });
    const file = h("input", { name: "file", type: "file", accept: ".csv,.xlsx,text/csv," + XLSX });
    const showReport = (answer) => {
      params.imported = { ...answer, errors: answer.errors.slice(0, ERRORS_SHOWN) };
      const more = answer.invalid - params.imported.errors.length;
      fill(
        report,
        h("p", {}, answer.committed ? said(t("shuImported"), answer) : said(t("shuChecked"), answer)),
        answer.errors.length ? h("ul", { class: "shu-import-errors" }, params.imported.errors.map((error) => h("li", {}, importErrorLine(error, language)))) : null,
        more > 0 ? h("p", { class: "label" }, said(t("shuMoreErrors"), { count: more })) : null,
      );
    };
    if (params.imported) showReport(params.imported);
    const send = async (commit) => {
      problem.show(null);
      const chosen = file.files?.[0];
      const bookYear = year();
      if (bookYear === null) return;
      if (!chosen) return problem.show(t("shuNoFile"));
      const form = new FormData();
      form.append("file", chosen, chosen.name);
      try {
        const response = await sendRaw(api, language, `${base}/savings/import?year=${bookYear}${commit ? "&commit=true" : ""}`, {
          method: "POST", body: form, headers: { Accept: "application/json" },
        });
        showReport(await response.json());
      } catch (error) {
        problem.show(sentence(error, t));
        if (error.problem?.report) showReport(error.problem.report);
      }
    };
    return h(
      "div",
      { class: "shu-savings" },
      h("p", { class: "label" }, t("shuSavingsNote")),
      h("label", {}, t("shuFile"), file),
      problem,
      report,
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary shu-check", onclick: () => send(false) }, t("shuCheck")), h("button", { type: "button", class: "primary shu-import", onclick: () => send(true) }, t("shuImport"))),
    );
  }

  // --- the simulation, the run, the approval --------------------------------------------------
  function Figures(basis) {
    const rows = basis.members.map((member) =>
      h("tr", {}, h("td", {}, shownName(member.name)), h("td", {}, formatRupiah(member.jasa_usaha_share)), h("td", {}, formatRupiah(member.jasa_modal_share)), h("td", {}, formatRupiah(member.share))),
    );
    const more = basis.member_count - basis.members.length;
    return h(
      "div",
      { class: "shu-figures" },
      h("p", {}, said(t("shuParts"), { year: basis.year, usaha: formatRupiah(basis.jasa_usaha_amount), modal: formatRupiah(basis.jasa_modal_amount), usahaPercent: bpsToPercent(basis.policy.jasa_usaha_bps, language), modalPercent: bpsToPercent(basis.policy.jasa_modal_bps, language) })),
      basis.undistributed > 0 ? h("p", { class: "shu-undistributed" }, said(t("shuUndistributed"), { amount: formatRupiah(basis.undistributed) })) : null,
      h(
        "table",
        { class: "shu-table" },
        h("thead", {}, h("tr", {}, h("th", {}, t("shuMember")), h("th", {}, "Jasa usaha"), h("th", {}, "Jasa modal"), h("th", {}, "SHU"))),
        h("tbody", {}, rows),
        h("tfoot", {}, h("tr", {}, h("th", {}, t("shuTotal")), h("th", {}, formatRupiah(basis.jasa_usaha_distributed)), h("th", {}, formatRupiah(basis.jasa_modal_distributed)), h("th", {}, formatRupiah(basis.distributed)))),
      ),
      more > 0 ? h("p", { class: "label" }, said(t("shuMoreInFile"), { count: more })) : null,
    );
  }

  function Simulation() {
    const root = h("div", { class: "shu-simulation" });
    const problem = problemLine();
    const pool = h("input", {
      name: "pool", type: "text", inputmode: "numeric", value: params.pool ? formatRupiah(amountFromDigits(params.pool)).replace("Rp ", "") : "",
      oninput: () => (params.pool = String(amountFromDigits(pool.value))),
    });
    const body = h("div", {});
    const render = () => {
      const run = params.run;
      const shown = run ?? params.basis;
      fill(body, shown ? Figures(shown) : null, run ? Run(run) : params.basis ? Simulated(params.basis) : null);
    };
    const simulate = async (event) => {
      event.preventDefault();
      problem.show(null);
      const bookYear = year();
      if (bookYear === null) return;
      try {
        params.basis = kept(await api.get(`${base}?year=${bookYear}&pool=${amountFromDigits(params.pool ?? "")}`));
        params.run = null;
        render();
      } catch (error) {
        problem.show(sentence(error, t));
      }
    };

    function Simulated(basis) {
      const line = problemLine();
      const prepare = async () => {
        line.show(null);
        try {
          params.run = kept(await api.post(`${base}/runs`, { year: basis.year, pool: basis.pool }));
          render();
        } catch (error) {
          line.show(sentence(error, t));
        }
      };
      return h(
        "div",
        { class: "shu-simulated" },
        h("p", { class: "label" }, t("shuSimulationNote")),
        line,
        h("div", { class: "actions" }, h("button", { type: "button", class: "secondary shu-download", onclick: () => download(`${base}?year=${basis.year}&pool=${basis.pool}&format=xlsx`, `shu-simulasi-${basis.year}.xlsx`, line) }, t("shuDownload")), h("button", { type: "button", class: "primary shu-prepare", onclick: prepare }, t("shuPrepare"))),
      );
    }

    function Run(run) {
      const line = problemLine();
      const ratDate = field(t("shuRatDate"), "rat_date", { type: "date", value: params.ratDate ?? "", oninput: (event) => (params.ratDate = event.target.value) });
      const reference = field(t("shuRatReference"), "rat_reference", { type: "text", maxlength: "120", value: params.ratReference ?? "", oninput: (event) => (params.ratReference = event.target.value) });
      const approve = async (event) => {
        event.preventDefault();
        line.show(null);
        try {
          params.run = kept(await api.post(`${base}/runs/${run.id}/approve`, { rat_date: params.ratDate ?? "", rat_reference: params.ratReference ?? "" }));
          render();
        } catch (error) {
          line.show(sentence(error, t));
        }
      };
      const approved = run.status === "approved";
      return h(
        "form",
        { class: `shu-run ${run.status}`, onsubmit: approve },
        h("p", { class: "shu-run-status", role: "status" }, `${t("shuRun")} ${run.id}: `, approved ? said(t("shuApproved"), { date: run.rat_date, reference: run.rat_reference }) : t("shuDraft")),
        approved ? null : [ratDate, reference],
        line,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "secondary shu-download", onclick: () => download(`${base}/runs/${run.id}.xlsx`, `shu-${run.year}-${run.status}.xlsx`, line) }, t("shuDownload")),
          approved ? null : h("button", { type: "submit", class: "primary shu-approve" }, t("shuApprove")),
        ),
      );
    }

    render();
    return fill(root, h("form", { class: "shu-simulate", onsubmit: simulate }, h("label", {}, t("shuPool"), pool), problem, h("button", { type: "submit", class: "primary" }, t("shuSimulate"))), body);
  }

  const section = (kind, title, content) => h("section", { class: `shu-section ${kind}` }, h("h2", {}, title), content);
  return h(
    "section",
    { class: "shu-screen" },
    h("h1", {}, t("shuTitle")),
    h("label", { class: "shu-year" }, t("shuYear"), yearInput),
    yearProblem,
    section("shu-rules", t("shuPolicy"), PolicyForm()),
    section("shu-savings-section", t("shuSavings"), SavingsForm()),
    section("shu-simulation-section", t("shuSimulation"), Simulation()),
  );
}
