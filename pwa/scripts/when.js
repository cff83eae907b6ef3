// Dates and times as the app shows them: always the Asia/Jakarta wall clock (the gateway's days
// are Jakarta days), one way per language — id-ID ("3 Des 2026 14.05") or en-GB ("3 Dec 2026
// 14:05"). Every screen formats through here, never with its own toLocale…() call. No DOM.

const ZONE = "Asia/Jakarta";
const LOCALES = { id: "id-ID", en: "en-GB" };
const formats = new Map();

function formatter(language, options) {
  const locale = LOCALES[language] ?? LOCALES.id;
  const key = `${locale}|${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(locale, { timeZone: ZONE, ...options }));
  return formats.get(key);
}

const toDate = (instant) => (instant instanceof Date ? instant : new Date(instant));

/** "14.05" / "14:05": the time of day. */
export function formatTime(instant, language) {
  return formatter(language, { hour: "2-digit", minute: "2-digit", hour12: false }).format(toDate(instant));
}

/** "3 Des 2026" / "3 Dec 2026": the day. */
export function formatDate(instant, language) {
  return formatter(language, { day: "numeric", month: "short", year: "numeric" }).format(toDate(instant));
}

/** "3 Des 2026 14.05" / "3 Dec 2026 14:05": day and time (composed here, so that browsers with
 * other ICU data still write it one way). */
export function formatDateTime(instant, language) {
  return `${formatDate(instant, language)} ${formatTime(instant, language)}`;
}

/** A Jakarta day ("2026-12-03") as "Kamis, 3 Des 2026" / "Thursday, 3 Dec 2026". */
export function formatDay(isoDay, language) {
  // Noon in Jakarta is on that day whatever the phone's own zone.
  const noon = new Date(`${isoDay}T12:00:00+07:00`);
  return `${formatter(language, { weekday: "long" }).format(noon)}, ${formatDate(noon, language)}`;
}
