// .bar-chart — a small bar chart over months as SVG, drawn here (no library: a few hundred bytes
// instead of tens of kilobytes on a slow network). Accessible: the SVG is one image with a title
// and a description that says every value; the table beside it carries the same numbers for
// reading and for screen readers. A value that is null (withheld) is drawn as a short grey stub
// marked "–", never as a zero. The scale helpers are pure and unit-tested.

const SVG = "http://www.w3.org/2000/svg";
const STEPS = [1, 2, 2.5, 5, 10];

/** The smallest round number (1, 2, 2,5 or 5 times a power of ten) at or above `value`. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = STEPS.find((candidate) => candidate * power >= value);
  return step * power;
}

/** Gridlines from 0 to `max` in `count` equal steps. */
export function ticks(max, count = 4) {
  return Array.from({ length: count + 1 }, (_, index) => (max * index) / count);
}

const SHORT = {
  id: [[1e12, "T"], [1e9, "M"], [1e6, "jt"], [1e3, "rb"]],
  en: [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]],
};

/** An axis label: 1.500.000 as "1,5 jt" (id) or "1.5M" (en); small numbers whole. */
export function compactNumber(value, language = "id") {
  const units = SHORT[language] ?? SHORT.id;
  const [size, unit] = units.find(([threshold]) => Math.abs(value) >= threshold) ?? [1, ""];
  const scaled = Math.round((value / size) * 10) / 10;
  const text = String(scaled);
  return `${language === "en" ? text : text.replace(".", ",")}${unit ? (language === "en" ? unit : ` ${unit}`) : ""}`;
}

const MONTH_LOCALES = { id: "id-ID", en: "en-GB" };
const monthFormats = new Map();

/** A month ("2026-01") as "Jan 2026" (id and en alike), or with `short` just "Jan"; the
 * Asia/Jakarta calendar, as when.js reads days. */
export function monthLabel(isoMonth, language = "id", { short = false } = {}) {
  const key = `${language}|${short}`;
  if (!monthFormats.has(key)) {
    const options = short ? { month: "short" } : { month: "short", year: "numeric" };
    monthFormats.set(key, new Intl.DateTimeFormat(MONTH_LOCALES[language] ?? MONTH_LOCALES.id, { timeZone: "Asia/Jakarta", ...options }));
  }
  return monthFormats.get(key).format(new Date(`${isoMonth}-15T12:00:00+07:00`));
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

/**
 * A bar chart: `labels` (one per bar, e.g. "Jan"), `values` (numbers or null), `format` (the
 * full value as text, for the description), `axis` (a short value for the axis), `max` (the top
 * of the scale; a round number above the largest value otherwise).
 */
export function barChart({ title, labels, values, format, axis, max, withheldText = "–" }) {
  const width = 320;
  const height = 170;
  const left = 44;
  const bottom = 22;
  const top = 8;
  const plotWidth = width - left - 4;
  const plotHeight = height - top - bottom;
  const largest = Math.max(0, ...values.filter((value) => value !== null));
  const scaleTop = max ?? niceMax(largest);
  const slot = plotWidth / Math.max(values.length, 1);
  const barWidth = Math.max(2, slot * 0.7);
  const description = labels.map((label, index) => `${label}: ${values[index] === null ? withheldText : format(values[index])}`).join("; ");

  const grid = ticks(scaleTop).map((tick) => {
    const y = top + plotHeight - (tick / scaleTop) * plotHeight;
    return svg(
      "g",
      { class: "bar-chart-tick" },
      svg("line", { x1: left, x2: width - 4, y1: y, y2: y }),
      svg("text", { x: left - 4, y: y + 3.5, "text-anchor": "end" }, axis(tick)),
    );
  });
  // Label every bar when they fit, else every second or third, always the last.
  const every = Math.ceil(values.length / 12) * (values.length > 6 ? 2 : 1);
  const bars = values.map((value, index) => {
    const x = left + index * slot + (slot - barWidth) / 2;
    const label = index % every === (values.length - 1) % every ? svg("text", { class: "bar-chart-label", x: x + barWidth / 2, y: height - 6, "text-anchor": "middle" }, labels[index]) : null;
    const barTitle = svg("title", {}, `${labels[index]}: ${value === null ? withheldText : format(value)}`);
    let bar;
    if (value === null) {
      bar = svg("g", { class: "bar-chart-withheld" }, svg("rect", { x, y: top + plotHeight - 6, width: barWidth, height: 6 }, barTitle), svg("text", { x: x + barWidth / 2, y: top + plotHeight - 9, "text-anchor": "middle" }, "–"));
    } else {
      const barHeight = scaleTop ? (Math.min(value, scaleTop) / scaleTop) * plotHeight : 0;
      bar = svg("rect", { class: "bar-chart-bar", x, y: top + plotHeight - barHeight, width: barWidth, height: Math.max(barHeight, value > 0 ? 1 : 0) }, barTitle);
    }
    return label ? svg("g", {}, bar, label) : bar;
  });
  const id = `chart-${Math.random().toString(36).slice(2, 10)}`;
  return svg(
    "svg",
    { class: "bar-chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-title ${id}-desc`, preserveAspectRatio: "xMidYMid meet" },
    svg("title", { id: `${id}-title` }, title),
    svg("desc", { id: `${id}-desc` }, description),
    ...grid,
    ...bars,
  );
}
