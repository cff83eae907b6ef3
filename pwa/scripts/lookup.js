// Finding a person at the counter: what a teller typed (a phone number or part of a name) as the
// gateway's search query, and the member id a scanned card holds. No DOM.

export const CARD_PREFIX = "interkop:member:";
export const NAME_LENGTH_MIN = 3;

/** The member id on a member's card QR ("interkop:member:mem_…"), or null for any other text. */
export function memberIdFromCard(text) {
  const found = /^interkop:member:(mem_[a-z0-9]{1,40})$/.exec(String(text ?? "").trim());
  return found ? found[1] : null;
}

/**
 * What the teller typed as a query: {phone} when it reads as a phone number (digits, spaces,
 * dashes, a leading +), else {name} with at least NAME_LENGTH_MIN letters, else null.
 */
export function searchQuery(typed) {
  const text = String(typed ?? "").trim().replace(/\s+/g, " ");
  const compact = text.replace(/[\s-]/g, "");
  if (/^\+?[0-9]{6,}$/.test(compact)) return { phone: compact };
  if (text.length >= NAME_LENGTH_MIN && !/^\+?[0-9\s-]*$/.test(text)) return { name: text };
  return null;
}

/** `/counter/members?phone=…` (or name=…), naming the counter when the teller serves several. */
export function searchPath(path, query, counterId = null) {
  const params = new URLSearchParams(query);
  if (counterId) params.set("counter_cooperative_id", counterId);
  return `${path}?${params}`;
}
