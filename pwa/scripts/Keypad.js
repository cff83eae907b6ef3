// .keypad — a big amount keypad for one thumb. Emits "amount" events with {amount}.
// `initial` starts it at an amount already typed (a screen re-created after a language switch
// or a reload keeps what the person typed); `t` labels the erase key in the app's language.

import { h } from "./dom.js";
import { amountFromDigits, formatRupiah, pressKey } from "./money.js";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "000", "0", "back"];

export function Keypad({ label, t = (key) => key, initial = 0 }) {
  let digits = Number.isSafeInteger(initial) && initial > 0 ? String(initial) : "";
  const display = h("output", { class: "keypad-amount", "aria-live": "polite" }, formatRupiah(amountFromDigits(digits)));
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
            "aria-label": key === "back" ? t("erase") : key,
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
