// .counter-desk — a cooperative's teller: find the member (by phone or name, or by scanning the
// member's card) and take cash in or pay cash out for a member of any partner cooperative; find a
// merchant of the cooperative and pay out its takings; a printable proof of each (print.css);
// register members and merchants. Cash moves only on the teller's open shift: without one the
// desk asks to open it (ShiftScreen.js) before any cash in or out. Everything typed, found and
// done lives in `params.desks`, so the screen comes back as it was when the App re-creates it (a
// language switch).

import { fill, h, navigate, problemLine, sentence, shownName } from "./dom.js";
import { memberIdFromCard, searchPath, searchQuery } from "./lookup.js";
import { amountFromDigits, formatRupiah } from "./money.js";
import { startScanning } from "./scanner.js";
import { formatDateTime } from "./when.js";

const PIN_FIELD = { type: "password", inputmode: "numeric", pattern: "[0-9]{6}", maxlength: "6" };
const AMOUNT_FIELD = { type: "text", inputmode: "numeric", pattern: "[0-9.]+" };

const CASH_DESKS = {
  "cash-in": { title: "cashIn", path: "/counter/cash-in", find: "members", confirm: "cashInConfirm", proof: "proofCashIn" },
  "cash-out": { title: "cashOut", path: "/counter/cash-out", find: "members", confirm: "cashOutConfirm", proof: "proofCashOut", pin: true },
  payout: { title: "payout", path: "/counter/payouts", find: "merchants", confirm: "payoutConfirm", proof: "proofPayout" },
};

// A money request and its Idempotency-Key, kept while the same request is retried: beside the
// desk's state, not in it (params hold JSON only, and never a PIN).
const pending = new WeakMap();

/** An API enum value ("verified", "angkot") in the app's language; the value itself if unknown. */
export function enumLabel(t, prefix, value) {
  const key = prefix + String(value).charAt(0).toUpperCase() + String(value).slice(1);
  const text = t(key);
  return text === key ? value : text;
}

/** The lines that tell who someone found at the counter is. */
function partyLines(party, t) {
  const detail = party.owner_name
    ? [`${enumLabel(t, "kind", party.kind)} · ${t("owner")}: `, shownName(party.owner_name), ` · ${party.owner_phone_masked}`]
    : `${enumLabel(t, "tier", party.tier)} · ${party.phone_masked}`;
  return [
    h("span", { class: "party-name" }, shownName(party.name)),
    h("span", { class: "party-cooperative" }, shownName(party.cooperative.name)),
    h("span", { class: "party-detail" }, detail),
  ];
}

function CashDesk({ kind, api, t, language, state, counterId, onStop }) {
  const desk = CASH_DESKS[kind];
  const root = h("div", { class: "cash-desk" });
  let stopCamera = null;
  const stop = () => {
    stopCamera?.();
    stopCamera = null;
  };
  onStop(stop);
  const render = () => {
    stop();
    fill(root, state.receipt ? Proof() : state.party ? Confirm() : Finder());
  };
  const choose = (party) => {
    state.party = party;
    render();
  };

  function Finder() {
    const problem = problemLine();
    const list = h("ul", { class: "found-list" });
    const note = h("p", { class: "found-note" });
    const input = h("input", {
      name: "query", type: "search", autocomplete: "off", enterkeyhint: "search", value: state.query ?? "",
      oninput: () => (state.query = input.value),
    });
    const showFound = () => {
      const found = state.found;
      if (!found) return;
      fill(list, found.items.map((party) => h("li", {}, h("button", { type: "button", class: "found-row", onclick: () => choose(party) }, partyLines(party, t)))));
      if (found.items.length) note.textContent = found.more ? t("moreFound") : "";
      else note.textContent = found.by === "name" && desk.find === "members" ? `${t("nobodyFound")} ${t("nameSearchNote")}` : t("nobodyFound");
    };
    const form = h(
      "form",
      {
        class: "finder",
        onsubmit: async (event) => {
          event.preventDefault();
          const query = searchQuery(input.value);
          problem.show(query ? null : t("searchTooShort"));
          if (!query) {
            state.found = null;
            fill(list);
            note.textContent = "";
            return;
          }
          try {
            const answer = await api.get(searchPath(`/counter/${desk.find}`, query, counterId));
            state.found = { items: answer.items, more: answer.more, by: query.name ? "name" : "phone" };
            showFound();
          } catch (error) {
            problem.show(sentence(error, t));
          }
        },
      },
      h("label", {}, t(desk.find === "members" ? "searchHint" : "merchantSearchHint"), h("span", { class: "finder-row" }, input, h("button", { type: "submit", class: "secondary" }, t("search")))),
    );
    const parts = [h("h3", {}, t(desk.find === "members" ? "findPerson" : "findMerchant")), form];
    if (desk.find === "members") {
      const video = h("video", { class: "finder-video", playsinline: true, muted: true, autoplay: true, hidden: true });
      const scanButton = h("button", { type: "button", class: "secondary scan-card" }, t("scanCard"));
      const idle = () => {
        stop();
        video.hidden = true;
        scanButton.textContent = t("scanCard");
      };
      const cardRead = async (memberId) => {
        idle();
        try {
          const query = counterId ? `?counter_cooperative_id=${encodeURIComponent(counterId)}` : "";
          choose(await api.get(`/counter/members/${encodeURIComponent(memberId)}${query}`));
        } catch (error) {
          problem.show(sentence(error, t));
        }
      };
      scanButton.addEventListener("click", async () => {
        if (stopCamera) return idle();
        problem.show(null);
        video.hidden = false;
        scanButton.textContent = t("stopCamera");
        try {
          stopCamera = await startScanning(video, (text) => {
            const memberId = memberIdFromCard(text);
            if (!memberId) {
              problem.show(t("notACard"));
              return false; // keep scanning
            }
            cardRead(memberId);
            return true;
          });
        } catch (error) {
          console.warn(error);
          idle();
          problem.show(t("cameraFailed"));
        }
      });
      parts.push(scanButton, h("div", { class: "finder-frame" }, video));
    }
    parts.push(problem, list, note);
    showFound();
    return parts;
  }

  async function send(body) {
    let request = pending.get(state);
    if (!request || JSON.stringify(request.body) !== JSON.stringify(body)) {
      request = { body, ...api.moneyPost(desk.path, body) };
      pending.set(state, request);
    }
    const answer = await request.send();
    pending.delete(state);
    return answer;
  }

  function Confirm() {
    const party = state.party;
    const problem = problemLine();
    const amount = h("input", { name: "amount", ...AMOUNT_FIELD, required: true, autocomplete: "off", value: state.amount ?? "", oninput: () => (state.amount = amount.value) });
    const pin = desk.pin ? h("input", { name: "pin", ...PIN_FIELD, required: true, autocomplete: "off" }) : null;
    const button = h("button", { type: "submit", class: "primary" }, t(desk.confirm));
    const form = h(
      "form",
      {
        class: "cash-form",
        onsubmit: async (event) => {
          event.preventDefault();
          const value = amountFromDigits(amount.value);
          problem.show(value ? null : t("enterAmount"));
          if (!value) return;
          const body = { [desk.find === "members" ? "member_id" : "merchant_id"]: party.id, amount: value };
          if (pin) body.pin = pin.value;
          if (counterId) body.counter_cooperative_id = counterId;
          button.disabled = true;
          try {
            const receipt = await send(body);
            Object.assign(state, { receipt, party: null, amount: "", query: "", found: null });
            render();
          } catch (error) {
            problem.show(sentence(error, t));
          } finally {
            button.disabled = false;
          }
        },
      },
      h("label", {}, t("amount"), amount),
      pin ? h("label", {}, t("memberPin"), pin) : null,
      problem,
      button,
    );
    return [
      h("div", { class: "party card" }, partyLines(party, t)),
      h("p", { class: "party-check" }, t(desk.find === "members" ? "checkPerson" : "checkMerchant")),
      h("button", { type: "button", class: "secondary change-party", onclick: () => choose(null) }, t("change")),
      form,
    ];
  }

  function Proof() {
    const receipt = state.receipt;
    const who = receipt.member ?? receipt.merchant;
    return h(
      "div",
      { class: "counter-proof" },
      h("p", { class: "proof-brand" }, "Interkop"),
      h("h3", { class: "proof-title" }, t(desk.proof)),
      h("p", { class: "proof-amount amount-big" }, formatRupiah(receipt.amount)),
      h(
        "dl",
        { class: "proof-lines" },
        h("dt", {}, t(receipt.member ? "memberLabel" : "merchant")), h("dd", { class: "proof-name" }, shownName(who.name)),
        h("dt", {}, t("cooperative")), h("dd", { class: "proof-cooperative" }, shownName(who.cooperative.name)),
        h("dt", {}, t(receipt.member ? "balanceAfter" : "merchantBalanceAfter")), h("dd", { class: "proof-balance" }, formatRupiah(receipt.balance)),
        h("dt", {}, t("when")), h("dd", { class: "proof-when" }, formatDateTime(receipt.created_at, language)),
        h("dt", {}, t("counterOf")), h("dd", {}, shownName(receipt.counter.name)),
        h("dt", {}, t("teller")), h("dd", {}, shownName(receipt.teller.name)),
        h("dt", {}, t("transactionNo")), h("dd", { class: "mono" }, receipt.event_id),
      ),
      h(
        "div",
        { class: "actions proof-actions" },
        h("button", { type: "button", class: "secondary next-customer", onclick: () => { state.receipt = null; render(); } }, t("nextCustomer")),
        h("button", { type: "button", class: "primary print-proof", onclick: () => window.print() }, t("printProof")),
      ),
    );
  }

  render();
  return root;
}

function field(label, name, attributes = {}) {
  if (attributes.options) {
    return h("label", {}, label, h("select", { name }, attributes.options.map(([value, text]) => h("option", { value }, text))));
  }
  return h("label", {}, label, h("input", { name, required: true, autocomplete: "off", ...attributes }));
}

/** A registration form: its fields (typed values kept in `state`, never a PIN), a submit that
 * calls `run(data)`, and a line saying what was done. */
function RegisterDesk({ fields, run, describe, t, state }) {
  const problem = problemLine();
  const result = h("p", { class: "counter-result", role: "status" });
  const button = h("button", { type: "submit", class: "primary" }, t("submit"));
  const form = h(
    "form",
    {
      oninput: (event) => {
        if (event.target.type !== "password") (state.typed ??= {})[event.target.name] = event.target.value;
      },
      onsubmit: async (event) => {
        event.preventDefault();
        problem.show(null);
        button.disabled = true;
        try {
          state.done = await run(Object.fromEntries(new FormData(form)));
          state.typed = {};
          form.reset();
          fill(result, describe(state.done));
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
  for (const [name, value] of Object.entries(state.typed ?? {})) if (form.elements[name]) form.elements[name].value = value;
  if (state.done) fill(result, describe(state.done));
  return form;
}

export function CounterDesk({ api, t, me, params, store, onLeave }) {
  const language = store?.get().language ?? "id";
  const coop = me.admin_cooperative_ids[0];
  // An admin of several cooperatives names the counter (their first); one of one need not.
  const counterId = me.admin_cooperative_ids.length > 1 ? coop : null;
  const desks = (params.desks ??= {});
  const stops = [];
  onLeave(() => stops.forEach((stop) => stop()));

  const section = (kind, title, content, stop = null) => {
    const details = h("details", { class: `counter-form ${kind}`, open: params.open === kind }, h("summary", {}, title), content);
    details.addEventListener("toggle", () => {
      if (details.open) params.open = kind;
      else {
        stop?.();
        if (params.open === kind) params.open = null;
      }
    });
    return details;
  };
  const cash = (kind) => {
    let stop = null;
    const content = CashDesk({ kind, api, t, language, counterId, state: (desks[kind] ??= {}), onStop: (fn) => stops.push((stop = fn)) });
    return section(kind, t(CASH_DESKS[kind].title), content, () => stop?.());
  };
  const registered = (answer) => (answer.object === "invitation" ? `${t("invited")} ${answer.id}` : [`${t("saved")} `, shownName(answer.name), `: ${answer.id}`]);
  const options = (prefix, values) => values.map((value) => [value, enumLabel(t, prefix, value)]);

  // No cash moves without the teller's open shift (the gateway refuses it: 409 shift-required),
  // so the cash desks are shown only once the gateway says one is open.
  const shiftBar = h("div", { class: "shift-bar" }, h("p", { class: "loading" }, t("loading")));
  const cashDesks = h("div", { class: "cash-desks" });
  const toShift = (label, name) => h("button", { type: "button", class: name, onclick: () => navigate(shiftBar, "shift") }, t(label));
  api
    .get("/counter/shifts/current")
    .then(({ shift }) => {
      if (!shift) {
        fill(shiftBar, h("p", { class: "shift-required", role: "status" }, t("shiftRequiredNote")), toShift("openShift", "primary open-shift"));
        return;
      }
      fill(shiftBar, h("p", { class: "shift-open" }, `${t("shiftBar")} `, h("strong", { class: "shift-expected" }, formatRupiah(shift.expected_cash_amount))), toShift("shiftManage", "secondary manage-shift"));
      fill(cashDesks, cash("cash-in"), cash("cash-out"), cash("payout"));
    })
    .catch((error) => fill(shiftBar, h("p", { class: "problem", role: "alert" }, sentence(error, t))));

  return h(
    "section",
    { class: "counter-desk" },
    h("h1", {}, t("counterTitle")),
    shiftBar,
    cashDesks,
    section(
      "register-member",
      t("registerMember"),
      RegisterDesk({
        t, state: (desks["register-member"] ??= {}), describe: registered,
        fields: [field(t("phone"), "phone", { type: "tel", value: "+62" }), field(t("name"), "name"), field(t("pin"), "pin", PIN_FIELD), field(t("tier"), "tier", { options: options("tier", ["basic", "verified"]) })],
        run: (data) => api.post(`/cooperatives/${coop}/members`, data),
      }),
    ),
    section(
      "register-merchant",
      t("registerMerchant"),
      RegisterDesk({
        t, state: (desks["register-merchant"] ??= {}), describe: registered,
        fields: [
          field(t("name"), "name"),
          field(t("kind"), "kind", { options: options("kind", ["shop", "angkot", "taxi", "other"]) }),
          field(t("category"), "category", { options: options("category", ["micro", "small", "regular"]) }),
          field(t("ownerPhone"), "owner_phone", { type: "tel", value: "+62" }),
          field(t("ownerName"), "owner_name"),
          field(t("ownerPin"), "owner_pin", PIN_FIELD),
        ],
        run: (data) => api.post(`/cooperatives/${coop}/merchants`, data),
      }),
    ),
    section("sticker", t("sticker"), h("p", {}, t("stickerNote"))),
    h("button", { type: "button", class: "import-link", onclick: (event) => navigate(event.currentTarget, "import") }, t("importLink")),
  );
}
