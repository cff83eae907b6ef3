// A tiny element builder: h("button", {class: "big", onclick}, "Bayar"). No innerHTML anywhere.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * A name someone else chose (a person, a merchant, a cooperative), as text in a <bdi>: markup
 * stays text, and a right-to-left name cannot reorder the words around it. The gateway refuses
 * direction controls in names; this holds for every name it already has, and every screen.
 */
export function shownName(name) {
  return h("bdi", {}, name ?? "");
}

/** Replace an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Ask the app for another screen: the event bubbles up to the App. */
export function navigate(from, screen, params = {}) {
  from.dispatchEvent(new CustomEvent("navigate", { bubbles: true, detail: { screen, params } }));
}

/** An alert line showing a problem's sentence (or nothing). */
export function problemLine() {
  const line = h("p", { class: "problem", role: "alert", hidden: true });
  line.show = (message) => {
    line.textContent = message ?? "";
    line.hidden = !message;
  };
  return line;
}

/** The sentence to show for an error from the API client. */
export function sentence(error, t) {
  if (error?.name === "ApiError") return error.message;
  if (error?.name === "NetworkError") return t("networkError");
  return String(error?.message ?? error);
}
