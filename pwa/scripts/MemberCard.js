// .member-card — the member's card: a big QR of "interkop:member:<id>" that a teller at any
// partner cooperative's counter scans to find the member, with the name and cooperative under it.
// It proves nothing by itself: the teller checks the name and cooperative, cash-out takes the PIN.

import { fill, h, problemLine, sentence, shownName } from "./dom.js";

export function MemberCard({ api, t, me, onLeave }) {
  const problem = problemLine();
  const image = h("img", { class: "member-card-qr", alt: t("memberCard"), width: "320", height: "320" });
  const cooperative = h("p", { class: "member-card-cooperative" });
  onLeave(() => image.src && URL.revokeObjectURL(image.src));
  const root = h(
    "section",
    { class: "member-card" },
    h("h1", {}, t("memberCard")),
    image,
    h("p", { class: "member-card-name" }, shownName(me.name)),
    cooperative,
    h("p", { class: "member-card-note" }, t("memberCardNote")),
    problem,
  );
  (async () => {
    try {
      const { items } = await api.get("/cooperatives"); // also renews an access token near its end
      const own = items.find((item) => item.id === me.cooperative_id);
      fill(cooperative, own ? shownName(own.name) : "");
      const response = await fetch(`/api/v1/members/${me.member_id}/card.svg`, { headers: { Authorization: `Bearer ${api.session.accessToken}` }, cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      image.src = URL.createObjectURL(await response.blob());
    } catch (error) {
      problem.show(sentence(error, t));
    }
  })();
  return root;
}
