import { test } from "node:test";
import assert from "node:assert/strict";
import { memberIdFromCard, searchPath, searchQuery } from "../scripts/lookup.js";

test("a member's card names the member; nothing else does", () => {
  assert.equal(memberIdFromCard("interkop:member:mem_rpzyy3idm5yw57aj"), "mem_rpzyy3idm5yw57aj");
  assert.equal(memberIdFromCard("  interkop:member:mem_abc \n"), "mem_abc");
  for (const text of ["http://x/pay#eyJ0", "interkop:member:", "interkop:member:mer_abc", "interkop:member:mem_a/../b", "mem_abc", null]) {
    assert.equal(memberIdFromCard(text), null, String(text));
  }
});

test("digits are a phone number, letters a name", () => {
  assert.deepEqual(searchQuery("0812-0000-0003"), { phone: "081200000003" });
  assert.deepEqual(searchQuery(" +62 812 0000 0003 "), { phone: "+6281200000003" });
  assert.deepEqual(searchQuery("siti  rahayu"), { name: "siti rahayu" });
  assert.deepEqual(searchQuery("Toko 17"), { name: "Toko 17" });
});

test("too little to search for is no query", () => {
  for (const typed of ["", "  ", "si", "0812", "+6", "12-3"]) assert.equal(searchQuery(typed), null, typed);
});

test("the search path carries the query and, when asked, the counter", () => {
  assert.equal(searchPath("/counter/members", { phone: "+6281200000003" }), "/counter/members?phone=%2B6281200000003");
  assert.equal(searchPath("/counter/merchants", { name: "Bu Sri" }, "coop_x"), "/counter/merchants?name=Bu+Sri&counter_cooperative_id=coop_x");
});
