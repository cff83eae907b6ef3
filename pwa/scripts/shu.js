// SHU figures for the admin's screen: percentages as basis points and back, the lines of a
// savings import's report. No DOM.

export const WHOLE_BPS = 10_000;

/** "60", "60,5" or "12.25" (percent, at most two decimals) as basis points; null if it is not. */
export function percentToBps(text) {
  const clean = String(text ?? "").trim().replace(",", ".");
  const found = /^(\d{1,4})(?:\.(\d{1,2}))?$/.exec(clean);
  if (!found) return null;
  const bps = Number(found[1]) * 100 + Number((found[2] ?? "").padEnd(2, "0"));
  return Number.isSafeInteger(bps) ? bps : null;
}

/** Basis points as a percentage the way the language writes it: 6050 → "60,5" (id), "60.5" (en). */
export function bpsToPercent(bps, language = "id") {
  const whole = Math.trunc(bps / 100);
  const rest = String(bps % 100).padStart(2, "0").replace(/0+$/, "");
  return rest ? `${whole}${language === "en" ? "." : ","}${rest}` : String(whole);
}

/** The policy a form's percentages give, or the name of the first field that is not a percentage. */
export function policyFromPercents(percents) {
  const policy = {};
  for (const [name, text] of Object.entries(percents)) {
    const bps = percentToBps(text);
    if (bps === null) return { invalid: name };
    policy[name] = bps;
  }
  return { policy, whole: policy.jasa_usaha_bps + policy.jasa_modal_bps === WHOLE_BPS };
}

/** One bad row of a savings import, in the app's language. */
export function importErrorLine(error, language = "id") {
  const reason = language === "en" ? error.reason_en : error.reason_id;
  return language === "en" ? `Row ${error.row}, column ${error.column}: ${reason}` : `Baris ${error.row}, kolom ${error.column}: ${reason}`;
}
