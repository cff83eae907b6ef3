import { test } from "node:test";
import assert from "node:assert/strict";
import {
  addArrivals,
  emptyArrivals,
  hasQueued,
  KNOWN_MAX,
  lastAnnounced,
  markAllSeen,
  markSeen,
  restoreArrivals,
  RESUME_MS,
  savedArrivals,
  STALE_MS,
  takeNext,
  UNSEEN_MAX,
} from "../scripts/arrivals.js";

const NOW = Date.parse("2026-12-03T07:05:00Z");
const at = (seconds) => new Date(NOW + seconds * 1000).toISOString();
const payment = (id, amount, name, seconds) => ({ id, amount, payer: { id: `mem_${id}`, name }, created_at: at(seconds), fee_amount: 0 });

/** Announce everything queued; return the ids in the order they were announced. */
function drain(state, now = NOW) {
  const said = [];
  for (;;) {
    const next = takeNext(state, now);
    state = next.state;
    if (!next.item) return { state, said };
    said.push(next.item.id);
  }
}

test("two fares 66 ms apart in one batch are two items, each announced, oldest first", () => {
  const dewi = payment("pay_1", 5_000, "Dewi", 0);
  const budi = { ...payment("pay_2", 4_000, "Budi", 0), created_at: new Date(NOW + 66).toISOString() };
  let state = addArrivals(emptyArrivals(), [budi, dewi], { now: NOW });
  assert.deepEqual(state.unseen.map((item) => [item.id, item.amount, item.name]), [["pay_1", 5_000, "Dewi"], ["pay_2", 4_000, "Budi"]]);
  assert.ok(hasQueued(state));
  const first = takeNext(state, NOW);
  assert.equal(first.item.id, "pay_1");
  assert.equal(lastAnnounced(first.state).id, "pay_1");
  const second = takeNext(first.state, NOW);
  assert.equal(second.item.id, "pay_2");
  assert.equal(lastAnnounced(second.state).name, "Budi");
  state = takeNext(second.state, NOW).state;
  assert.equal(takeNext(state, NOW).item, null);
  assert.equal(lastAnnounced(state).id, "pay_2", "Ulangi still has the last one");
  assert.equal(state.unseen.length, 2, "announced is not seen: both stay on the list");
});

test("a payment delivered again, in whatever batch, is added once", () => {
  const a = payment("pay_a", 3_000, "Ani", 1);
  const b = payment("pay_b", 4_000, "Bayu", 2);
  const c = payment("pay_c", 5_000, "Citra", 3);
  let state = addArrivals(emptyArrivals(), [a], { now: NOW });
  state = addArrivals(state, [a, b], { now: NOW });
  state = addArrivals(state, [c, b, a, c], { now: NOW });
  assert.deepEqual(state.unseen.map((item) => item.id), ["pay_a", "pay_b", "pay_c"]);
  assert.deepEqual(drain(state).said, ["pay_a", "pay_b", "pay_c"]);
});

test("across batches the order is the order of arrival, even if a late one is older", () => {
  let state = addArrivals(emptyArrivals(), [payment("pay_2", 2_000, "B", 2)], { now: NOW });
  state = addArrivals(state, [payment("pay_1", 1_000, "A", 1)], { now: NOW + 50 }); // committed late
  assert.deepEqual(drain(state).said, ["pay_2", "pay_1"]);
});

test("the feed's first page is remembered, not announced and not on the list", () => {
  const old = [payment("pay_old1", 1_000, "A", -60), payment("pay_old2", 2_000, "B", -30)];
  let state = addArrivals(emptyArrivals(), old, { initial: true, now: NOW });
  assert.deepEqual(state.unseen, []);
  assert.equal(hasQueued(state), false);
  assert.equal(state.latest, at(-30));
  state = addArrivals(state, [old[1], payment("pay_new", 3_000, "C", 5)], { now: NOW });
  assert.deepEqual(drain(state).said, ["pay_new"]);
});

test("kept on the list until seen, one by one or all at once", () => {
  let state = addArrivals(emptyArrivals(), [payment("p1", 1_000, "A", 1), payment("p2", 2_000, "B", 2), payment("p3", 3_000, "C", 3)], { now: NOW });
  state = drain(state).state;
  state = markSeen(state, "p2");
  assert.deepEqual(state.unseen.map((item) => item.id), ["p1", "p3"]);
  state = markSeen(state, "nope");
  assert.equal(state.unseen.length, 2);
  state = markAllSeen(state);
  assert.deepEqual(state.unseen, []);
  assert.equal(lastAnnounced(state).id, "p3", "Ulangi outlives seeing");
  state = addArrivals(state, [payment("p2", 2_000, "B", 2)], { now: NOW });
  assert.deepEqual(state.unseen, [], "a seen payment never comes back");
});

test("one seen before its turn is not announced", () => {
  let state = addArrivals(emptyArrivals(), [payment("p1", 1_000, "A", 1), payment("p2", 2_000, "B", 2)], { now: NOW });
  state = markSeen(state, "p1");
  assert.deepEqual(drain(state).said, ["p2"]);
});

test("announcements held too long (no tap to allow sound) are only shown", () => {
  let state = addArrivals(emptyArrivals(), [payment("p1", 1_000, "A", 1)], { now: NOW });
  state = addArrivals(state, [payment("p2", 2_000, "B", 2)], { now: NOW + STALE_MS });
  const { said, state: after } = drain(state, NOW + STALE_MS + 1);
  assert.deepEqual(said, ["p2"]);
  assert.deepEqual(after.unseen.map((item) => item.id), ["p1", "p2"]);
});

test("the list and the memory of ids are bounded", () => {
  let state = emptyArrivals();
  for (let index = 0; index < KNOWN_MAX + 50; index += 1) state = addArrivals(state, [payment(`p${index}`, 1_000, "A", index)], { now: NOW });
  assert.equal(state.known.length, KNOWN_MAX);
  assert.equal(state.unseen.length, UNSEEN_MAX);
  assert.equal(state.unseen.at(-1).id, `p${KNOWN_MAX + 49}`, "the newest are kept");
});

test("a batch of many, in any order, is announced in time order with none lost", () => {
  const batch = Array.from({ length: 40 }, (_, index) => payment(`p${index}`, 1_000 + index, `N${index}`, index));
  const shuffled = [...batch].sort((a, b) => ((a.amount * 7919) % 41) - ((b.amount * 7919) % 41));
  let state = emptyArrivals();
  for (let start = 0; start < shuffled.length; start += 7) state = addArrivals(state, shuffled.slice(start, start + 9), { now: NOW });
  assert.deepEqual(drain(state).said.sort(), batch.map((p) => p.id).sort());
  const once = addArrivals(emptyArrivals(), shuffled, { now: NOW });
  assert.deepEqual(drain(once).said, batch.map((p) => p.id));
});

test("a reload keeps the list, Ulangi and the queue, and announces what came meanwhile", () => {
  let before = addArrivals(emptyArrivals(), [payment("p0", 500, "Old", -100)], { initial: true, now: NOW });
  before = addArrivals(before, [payment("p1", 5_000, "Dewi", 1), payment("p2", 4_000, "Budi", 2)], { now: NOW });
  before = takeNext(before, NOW).state; // p1 said, p2 still queued when the page reloads
  const saved = JSON.parse(JSON.stringify(savedArrivals(before, NOW + 1000)));
  let after = restoreArrivals(saved, NOW + 3000);
  assert.deepEqual(after.unseen.map((item) => item.id), ["p1", "p2"]);
  assert.equal(lastAnnounced(after).id, "p1");
  // The first page after the reload: the old ones and one paid during the reload.
  after = addArrivals(after, [payment("p3", 3_000, "Citra", 4), payment("p2", 4_000, "Budi", 2), payment("p1", 5_000, "Dewi", 1), payment("p0", 500, "Old", -100)], { initial: true, now: NOW + 3000 });
  const drained = drain(after, NOW + 3000);
  assert.deepEqual(drained.said, ["p2", "p3"]);
  after = drained.state;
  // Only the first page after the reload: a later first page (feed restarted) is not news.
  after = addArrivals(after, [payment("p_late", 1, "X", 3)], { initial: true, now: NOW + 4000 });
  assert.equal(hasQueued(after), false);
});

test("a state saved long ago is no reload: its first page is only remembered", () => {
  const before = addArrivals(emptyArrivals(), [payment("p1", 5_000, "Dewi", 1)], { now: NOW });
  const after = restoreArrivals(savedArrivals(before, NOW), NOW + RESUME_MS + 1);
  const next = addArrivals(after, [payment("p2", 4_000, "Budi", 2)], { initial: true, now: NOW + RESUME_MS + 1 });
  assert.deepEqual(drain(next, NOW + RESUME_MS + 1).said, [], "p1 waited too long, p2 is no news");
  assert.deepEqual(next.unseen.map((item) => item.id), ["p1"], "the unseen list still waits to be seen");
});

test("a new merchant who reloads: every payment of the first page came meanwhile", () => {
  const after = restoreArrivals(savedArrivals(emptyArrivals(), NOW), NOW + 2000);
  const next = addArrivals(after, [payment("p1", 5_000, "Dewi", 1)], { initial: true, now: NOW + 2000 });
  assert.deepEqual(drain(next, NOW + 2000).said, ["p1"]);
});

test("whatever localStorage held, restoring gives a sound state", () => {
  for (const junk of [null, undefined, 3, "x", [], { known: "a", unseen: [{ id: 1 }, null], queue: {}, last: { id: "p" }, latest: 5 }]) {
    const state = restoreArrivals(junk, NOW);
    assert.deepEqual({ ...state, resumeAfter: null }, emptyArrivals(), JSON.stringify(junk));
  }
  const state = emptyArrivals();
  assert.deepEqual(JSON.parse(JSON.stringify(state)), state, "plain JSON");
  const nameless = addArrivals(state, [{ id: "p1", amount: 1_000, payer: null, created_at: at(1) }], { now: NOW });
  assert.equal(nameless.unseen[0].name, "");
});
