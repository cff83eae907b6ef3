// .keypad — a big amount keypad for one thumb. Emits "amount" events with {amount}.

import { h } from "./dom.js";
import { amountFromDigits, formatRupiah, pressKey } from "./money.js";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "000", "0", "back"];

export function Keypad({ label }) {
  let digits = "";
  const display = h("output", { class: "keypad-amount", "aria-live": "polite" }, formatRupiah(0));
  const root = h(
    "div",
    { class: "keypad" },
    h("label", { class: "keypad-label" }, label),
    display,
    h(
      "div",
      { class: "keypad-keys" },
      KEYS.map((key) =>
        h(
          "button",
          {
            type: "button",
            class: `keypad-key${key === "back" ? " keypad-back" : ""}`,
            dataset: { key },
            "aria-label": key === "back" ? "hapus" : key,
            onclick: () => {
              digits = pressKey(digits, key);
              const amount = amountFromDigits(digits);
              display.textContent = formatRupiah(amount);
              root.dispatchEvent(new CustomEvent("amount", { detail: { amount } }));
            },
          },
          key === "back" ? "⌫" : key,
        ),
      ),
    ),
  );
  return root;
}
