// .shift-screen — the teller's cash shift (kas loket): open it with the cash counted into the
// drawer (keypad), see what the drawer should hold, count it at the close (keypad) and see
// expected vs counted and the difference before signing off with one's PIN; a printable shift
// report (print.css); and, for the cooperative's other admins, the counted shifts waiting for a
// second sign-off. Every figure shown is what the gateway answered: nothing is computed here but
// the difference of the count being typed, shown as a preview until the gateway has it.

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { Keypad } from "./Keypad.js";
import { formatRupiah } from "./money.js";
import { formatDateTime } from "./when.js";

const PIN_FIELD = { type: "password", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: "6", autocomplete: "off" };

/** A signed rupiah difference: "+Rp 1.000", "−Rp 20.000", "Rp 0". */
export function formatDifference(amount) {
  if (amount > 0) return `+${formatRupiah(amount)}`;
  if (amount < 0) return `−${formatRupiah(-amount)}`;
  return formatRupiah(0);
}

const STATUS_KEYS = { open: "shiftOpen", counted: "shiftCounted", closed: "shiftClosed" };

/** The lines of a shift's figures: opening, in, out, payouts, expected (and the count). */
function Figures(shift, t, language) {
  const line = (label, value, name) => [h("dt", {}, t(label)), h("dd", { class: name }, value)];
  return h(
    "dl",
    { class: "shift-figures proof-lines" },
    line("shiftStatus", t(STATUS_KEYS[shift.status]), "shift-status"),
    line("counterOf", shownName(shift.counter.name), "shift-counter"),
    line("teller", shownName(shift.teller.name), "shift-teller"),
    line("shiftOpenedAt", formatDateTime(shift.opened_at, language), "shift-opened"),
    line("openingCash", formatRupiah(shift.opening_cash_amount), "shift-opening"),
    line("shiftCashIn", formatRupiah(shift.cash_in_amount), "shift-cash-in"),
    line("shiftCashOut", formatRupiah(shift.cash_out_amount), "shift-cash-out"),
    line("shiftPayouts", formatRupiah(shift.payout_amount), "shift-payouts"),
    line("expectedCash", formatRupiah(shift.expected_cash_amount), "shift-expected"),
    shift.counted_cash_amount === null ? null : line("countedCash", formatRupiah(shift.counted_cash_amount), "shift-counted"),
    shift.difference_amount === null ? null : line("cashDifference", formatDifference(shift.difference_amount), "shift-difference"),
    shift.approved_by ? line("approvedBy", shownName(shift.approved_by.name), "shift-approved-by") : null,
  );
}

/** The printable shift report: the figures and every movement. */
function Report(report, t, language) {
  const kinds = { cash_in: "cashIn", cash_out: "cashOut", payout: "payout" };
  return h(
    "div",
    { class: "shift-report counter-proof" },
    h("p", { class: "proof-brand" }, "Interkop"),
    h("h3", { class: "proof-title" }, t("shiftReport")),
    Figures(report, t, language),
    h(
      "div",
      { class: "shift-movements-scroll" },
      h(
        "table",
        { class: "shift-movements" },
        h("thead", {}, h("tr", {}, [t("when"), t("shiftMovement"), t("shiftParty"), t("amount"), t("drawerCash")].map((text) => h("th", {}, text)))),
        h(
          "tbody",
          {},
          report.movements.map((movement) =>
            h(
              "tr",
              {},
              h("td", {}, formatDateTime(movement.created_at, language)),
              h("td", {}, t(kinds[movement.kind])),
              h("td", {}, shownName(movement.party)),
              h("td", { class: "number" }, formatRupiah(movement.amount)),
              h("td", { class: "number" }, formatRupiah(movement.drawer_cash_amount)),
            ),
          ),
        ),
      ),
    ),
    h("p", { class: "mono" }, report.id),
    h("div", { class: "actions proof-actions" }, h("button", { type: "button", class: "primary print-report", onclick: () => window.print() }, t("printShiftReport"))),
  );
}

export function ShiftScreen({ api, t, me, params, store }) {
  const language = store?.get().language ?? "id";
  const counterId = me.admin_cooperative_ids.length > 1 ? me.admin_cooperative_ids[0] : null;
  const body = h("div", { class: "shift-body" }, h("p", { class: "loading" }, t("loading")));
  const waiting = h("div", { class: "shift-waiting" });
  const root = h("section", { class: "shift-screen" }, h("h1", {}, t("shiftTitle")), body, waiting);

  async function load() {
    try {
      const { shift } = await api.get("/counter/shifts/current");
      params.shiftId = shift?.id ?? params.shiftId ?? null;
      if (shift) fill(body, OpenShift(shift));
      else if (params.closedId) fill(body, Closed(await api.get(`/counter/shifts/${params.closedId}`)));
      else fill(body, OpenForm());
    } catch (error) {
      fill(body, h("p", { class: "problem", role: "alert" }, sentence(error, t)));
    }
    loadWaiting();
  }

  function OpenForm() {
    const problem = problemLine();
    const keypad = Keypad({ label: t("openingCash"), t, initial: params.opening ?? 0 });
    keypad.addEventListener("amount", (event) => (params.opening = event.detail.amount));
    const button = h("button", { type: "button", class: "primary open-shift" }, t("openShift"));
    button.addEventListener("click", async () => {
      button.disabled = true;
      problem.show(null);
      try {
        const request = { opening_cash_amount: params.opening ?? 0 };
        if (counterId) request.counter_cooperative_id = counterId;
        await api.post("/counter/shifts", request);
        params.opening = 0;
        navigate(root, "counter");
      } catch (error) {
        problem.show(sentence(error, t));
        button.disabled = false;
      }
    });
    return [h("p", { class: "shift-note" }, t("shiftOpenNote")), keypad, problem, button];
  }

  function OpenShift(shift) {
    const problem = problemLine();
    const keypad = Keypad({ label: t("countedCash"), t, initial: params.counted ?? 0 });
    const preview = h("p", { class: "shift-preview", "aria-live": "polite" });
    const showPreview = () => {
      const counted = params.counted ?? 0;
      preview.textContent = `${t("expectedCash")} ${formatRupiah(shift.expected_cash_amount)} · ${t("countedCash")} ${formatRupiah(counted)} · ${t("cashDifference")} ${formatDifference(counted - shift.expected_cash_amount)}`;
    };
    keypad.addEventListener("amount", (event) => {
      params.counted = event.detail.amount;
      showPreview();
    });
    showPreview();
    const pin = h("input", { name: "pin", ...PIN_FIELD, required: true });
    const button = h("button", { type: "submit", class: "primary close-shift" }, t("signOffShift"));
    const form = h(
      "form",
      {
        class: "close-form",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          problem.show(null);
          try {
            const closed = await api.post(`/counter/shifts/${shift.id}/close`, { counted_cash_amount: params.counted ?? 0, pin: pin.value });
            params.closedId = closed.id;
            params.counted = 0;
            load();
          } catch (error) {
            problem.show(sentence(error, t));
            button.disabled = false;
          }
        },
      },
      h("h3", {}, t("closeShift")),
      keypad,
      preview,
      h("label", {}, t("tellerPin"), pin),
      h("p", { class: "shift-note" }, t("shiftThresholdNote").replace("{amount}", formatRupiah(shift.difference_threshold))),
      problem,
      button,
    );
    return [
      Figures(shift, t, language),
      h("button", { type: "button", class: "secondary to-counter", onclick: () => navigate(root, "counter") }, t("toCounter")),
      form,
    ];
  }

  function Closed(report) {
    const note = report.status === "counted" ? t("shiftWaitsSecond") : t("shiftClosedNote");
    return [
      h("p", { class: "shift-result", role: "status" }, note),
      Report(report, t, language),
      h("button", { type: "button", class: "secondary open-next", onclick: () => { params.closedId = null; load(); } }, t("openNextShift")),
    ];
  }

  async function loadWaiting() {
    try {
      const query = counterId ? `&counter_cooperative_id=${encodeURIComponent(counterId)}` : "";
      const { items } = await api.get(`/counter/shifts?status=counted${query}`);
      const others = items.filter((shift) => shift.id !== params.closedId);
      fill(waiting, others.length ? [h("h2", {}, t("shiftsWaiting")), others.map(Waiting)] : []);
    } catch {
      fill(waiting);
    }
  }

  function Waiting(shift) {
    const problem = problemLine();
    const pin = h("input", { name: "pin", ...PIN_FIELD, required: true });
    const button = h("button", { type: "submit", class: "primary approve-shift" }, t("approveShift"));
    return h(
      "form",
      {
        class: "approve-form card",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          problem.show(null);
          try {
            await api.post(`/counter/shifts/${shift.id}/approve`, { pin: pin.value });
            loadWaiting();
          } catch (error) {
            problem.show(sentence(error, t));
            button.disabled = false;
          }
        },
      },
      Figures(shift, t, language),
      h("label", {}, t("approverPin"), pin),
      problem,
      button,
    );
  }

  load();
  return root;
}
