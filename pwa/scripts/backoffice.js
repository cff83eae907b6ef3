// Pieces the back office's screens share: a plain data table (.data-table), and a button that
// downloads a report (CSV or XLSX) with the session's token and saves it under the gateway's name.

import { h, sentence } from "./dom.js";

const MEDIA_TYPES = {
  csv: "text/csv",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

const GROUPS = /\B(?=(\d{3})+(?!\d))/g;

/** A count as "12.345" (id) or "12,345" (en). */
export function formatCount(value, language = "id") {
  return String(value).replace(GROUPS, language === "en" ? "," : ".");
}

/** Basis points as a percentage: 1234 as "12,3%" (id) or "12.3%" (en). */
export function formatShare(bps, language = "id", digits = 1) {
  // Rounded half up in whole units of the last digit first, so no float decides a digit.
  const text = (Math.round(bps / 10 ** (2 - digits)) / 10 ** digits).toFixed(digits);
  return `${language === "en" ? text : text.replace(".", ",")}%`;
}

/** The path with `format=` set: the gateway picks the file's format from it. */
export function withFormat(path, format) {
  return `${path}${path.includes("?") ? "&" : "?"}format=${format}`;
}

/**
 * A table: `columns` are {label, numeric}, `rows` are arrays of cells (text or nodes). A caption
 * names it for screen readers.
 */
export function dataTable({ caption, columns, rows, className = "" }) {
  return h(
    "div",
    { class: `data-table-wrap ${className}`.trim() },
    h(
      "table",
      { class: "data-table" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col", class: column.numeric ? "numeric" : null }, column.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, index) => h(index === 0 ? "th" : "td", { scope: index === 0 ? "row" : null, class: columns[index]?.numeric ? "numeric" : null }, cell))))),
    ),
  );
}

/**
 * A button that fetches `path` (which asks for `format`) and saves it. If the gateway answers with something
 * else (an older gateway that does not know the format yet), it says so instead of saving a file
 * that is not what the button promised.
 */
export function downloadButton({ api, t, path, format, label, status }) {
  const notAvailable = t("formatNotAvailable").replace("{format}", format.toUpperCase());
  const button = h("button", {
    type: "button",
    class: `secondary download-button download-${format}`,
    onclick: async () => {
      button.disabled = true;
      status.textContent = t("downloading");
      try {
        const file = await api.download(typeof path === "function" ? path() : path, MEDIA_TYPES[format]);
        if ((file.type ?? "").split(";")[0].trim() !== MEDIA_TYPES[format]) {
          status.textContent = notAvailable;
          return;
        }
        const url = URL.createObjectURL(file.blob);
        const link = h("a", { href: url, download: file.name ?? `report.${format}`, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        status.textContent = `${t("downloaded")} ${file.name ?? ""}`.trim();
      } catch (error) {
        // A TypeError: the answer was not a file (a JSON body, read already) — the gateway does
        // not write this format for this report.
        status.textContent = error instanceof TypeError ? notAvailable : sentence(error, t);
      } finally {
        button.disabled = false;
      }
    },
  }, label);
  return button;
}

/**
 * XLSX and CSV buttons for one report, and the line that tells how the download went. `path` (or
 * a function that gives it when tapped) gets `format=` added; `paths` may name another path for a
 * format (a `.csv` suffix).
 */
export function downloads({ api, t, path, paths = {} }) {
  const target = (format) => () => paths[format] ?? withFormat(typeof path === "function" ? path() : path, format);
  const status = h("p", { class: "download-status", role: "status" });
  return h(
    "div",
    { class: "downloads" },
    h("div", { class: "download-buttons" }, downloadButton({ api, t, path: target("xlsx"), format: "xlsx", label: t("downloadXlsx"), status }), downloadButton({ api, t, path: target("csv"), format: "csv", label: t("downloadCsv"), status })),
    status,
  );
}
