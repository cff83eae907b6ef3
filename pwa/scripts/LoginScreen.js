// .login-screen — phone and PIN. A PIN printed on a slip (members imported in bulk) is right only
// for the first login: the gateway answers pin-change-required and gives no session until the
// person sets their own PIN, which this screen then asks for (the .pin-change form). The slip's
// PIN stays in this closure while that form is up, never in params or storage.

import { fill, h, problemLine, sentence } from "./dom.js";

const PIN_FIELD = { type: "password", inputmode: "numeric", autocomplete: "new-password", pattern: "[0-9]{6}", maxlength: "6", required: true };

export function LoginScreen({ api, t, onLogin }) {
  const root = h("div", { class: "login-root" });

  function LoginForm() {
    const problem = problemLine();
    const phone = h("input", { name: "phone", type: "tel", inputmode: "tel", autocomplete: "username", required: true, value: "+62" });
    const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "current-password", pattern: "[0-9]{6}", maxlength: "6", required: true });
    const button = h("button", { type: "submit", class: "primary" }, t("login"));
    return h(
      "form",
      {
        class: "login-screen",
        onsubmit: async (event) => {
          event.preventDefault();
          problem.show(null);
          button.disabled = true;
          try {
            await api.login(phone.value.trim(), pin.value);
            await onLogin();
          } catch (error) {
            if (error?.slug === "pin-change-required") {
              fill(root, PinChange(phone.value.trim(), pin.value));
              return;
            }
            problem.show(sentence(error, t));
            pin.value = "";
          } finally {
            button.disabled = false;
          }
        },
      },
      h("h1", {}, t("loginTitle")),
      h("label", {}, t("phone"), phone),
      h("label", {}, t("pin"), pin),
      problem,
      button,
    );
  }

  function PinChange(phone, slipPin) {
    const problem = problemLine();
    const first = h("input", { name: "new_pin", ...PIN_FIELD });
    const again = h("input", { name: "new_pin_again", ...PIN_FIELD });
    const button = h("button", { type: "submit", class: "primary" }, t("setPinButton"));
    return h(
      "form",
      {
        class: "login-screen pin-change",
        onsubmit: async (event) => {
          event.preventDefault();
          problem.show(null);
          if (first.value !== again.value) {
            problem.show(t("pinsDiffer"));
            again.value = "";
            return;
          }
          button.disabled = true;
          try {
            await api.changePin(phone, slipPin, first.value);
            await onLogin();
          } catch (error) {
            problem.show(sentence(error, t));
            first.value = again.value = "";
          } finally {
            button.disabled = false;
          }
        },
      },
      h("h1", {}, t("setPinTitle")),
      h("p", {}, t("setPinNote")),
      h("label", {}, t("newPin"), first),
      h("label", {}, t("newPinAgain"), again),
      problem,
      button,
      h("button", { type: "button", class: "text-button", onclick: () => fill(root, LoginForm()) }, t("back")),
    );
  }

  return fill(root, LoginForm());
}
