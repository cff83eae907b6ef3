// .operator-home — the network operator: the settlement windows (close the open one, verify a
// sealed window's digest against its transfers, each cooperative's position and each pair's
// figures, mark it settled, download the statement as XLSX or CSV) and the fee rule of each
// cooperative pair. Every figure is the gateway's (GET /settlement/windows, /fee-schedules); an
// action asks once more before it is done. Which window is open in the list lives in `params`.

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
  const pairs = (window.pairs ?? []).map((pair) => [
    `${pair.issuer_code} → ${pair.acquirer_code}`,
    formatCount(pair.count, language),
    formatRupiah(pair.gross),
    formatRupiah(pair.fee_issuer + pair.fee_acquirer + pair.fee_network),
    pair.refunds ? formatRupiah(pair.refunds) : "–",
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
        columns: [{ label: t("pair") }, { label: t("count"), numeric: true }, { label: t("gross"), numeric: true }, { label: t("fees"), numeric: true }, { label: t("refunds"), numeric: true }],
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

function ruleCells(rule, language) {
  const category = (name) => {
    const { bps, free_up_to: free } = rule.categories[name];
    return free ? `${formatShare(bps, language, 2)} (> ${formatRupiah(free)})` : formatShare(bps, language, 2);
  };
  const split = `${formatShare(rule.split_issuer_bps, language, 0)} / ${formatShare(rule.split_acquirer_bps, language, 0)} / ${formatShare(rule.split_network_bps, language, 0)}`;
  return [category("micro"), category("small"), category("regular"), split];
}

function FeeSchedule({ t, language, schedules, codes }) {
  const scopeName = (schedule) =>
    schedule.scope === "pair" ? `${codes.get(schedule.issuer_cooperative_id) ?? "?"} → ${codes.get(schedule.acquirer_cooperative_id) ?? "?"}` : t(schedule.scope === "on_us" ? "feeOnUs" : "feeDefault");
  const rows = [
    ...schedules.items.map((schedule) => [scopeName(schedule), ...ruleCells(schedule.rule, language)]),
    [t("feeBuiltIn"), ...ruleCells(schedules.built_in_default, language)],
  ];
  return dataTable({
    caption: t("feeCaption"),
    columns: [{ label: t("pair") }, { label: t("categoryMicro"), numeric: true }, { label: t("categorySmall"), numeric: true }, { label: t("categoryRegular"), numeric: true }, { label: t("feeSplit"), numeric: true }],
    rows,
    className: "fee-table",
  });
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
      const codes = new Map(cooperatives.items.map((cooperative) => [cooperative.id, cooperative.code]));
      fill(windows, list.items.length ? list.items.map((window) => Window({ api, t, language, window, params, reload })) : h("p", { class: "empty" }, t("noWindows")));
      fill(fees, FeeSchedule({ t, language, schedules, codes }));
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
