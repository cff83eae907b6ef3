// .login-screen — phone and PIN.

import { h, problemLine, sentence } from "./dom.js";

export function LoginScreen({ api, t, onLogin }) {
  const problem = problemLine();
  const phone = h("input", { name: "phone", type: "tel", inputmode: "tel", autocomplete: "username", required: true, value: "+62" });
  const pin = h("input", { name: "pin", type: "password", inputmode: "numeric", autocomplete: "current-password", pattern: "[0-9]{6}", maxlength: "6", required: true });
  const button = h("button", { type: "submit", class: "primary" }, t("login"));
  const form = h(
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
  return form;
}
