import { describe, expect, it } from "vitest";
import { canonicalSort } from "../../src/data/protocols/canonical.ts";
import { kcoreIterative, kcoreSinglePass, keepAll, removeImmediateRepeats } from "../../src/data/protocols/filters.ts";
import { applyProtocol } from "../../src/data/protocols/index.ts";
import { leaveOneOut } from "../../src/data/protocols/leave-one-out.ts";
import { RawLogBuilder, type RawData } from "../../src/data/raw.ts";

function raw(rows: [string, string, number][], titles: Record<string, string> = {}): RawData {
  const b = new RawLogBuilder();
  for (const [u, i, t] of rows) b.push(u, i, t);
  return { log: b.build(), items: new Map(Object.entries(titles).map(([k, v]) => [k, { title: v }])) };
}

const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);

describe("canonical ids", () => {
  it("sorts numerically when all ids are integers, else by code unit", () => {
    expect(canonicalSort(["10", "9", "100", "1"])).toEqual(["1", "9", "10", "100"]);
    expect(canonicalSort(["b", "B", "a10", "a9"])).toEqual(["B", "a10", "a9", "b"]);
    expect(canonicalSort(["18446744073709551617", "18446744073709551616"])).toEqual(["18446744073709551616", "18446744073709551617"]);
  });

  it("does not depend on first appearance", () => {
    const r = raw([["2", "30", 1], ["2", "10", 2], ["2", "20", 3], ["1", "20", 1], ["1", "10", 2], ["1", "30", 3]]);
    const a = leaveOneOut(r, keepAll(r.log), { name: "t", protocol: "none" });
    expect(a.users).toEqual(["1", "2"]);
    expect(a.catalog.items.map((i) => i.rawId)).toEqual(["", "10", "20", "30"]);
    expect([...a.train[0], a.val[0], a.test[0]]).toEqual([2, 1, 3]);
    expect([...a.train[1], a.val[1], a.test[1]]).toEqual([3, 1, 2]);
  });
});

describe("leave-one-out", () => {
  it("sorts by (timestamp, dense id), splits last/second-last, drops users with < 3 rows", () => {
    const r = raw([
      ["u", "c", 5], ["u", "b", 5], ["u", "a", 1], ["u", "d", 9],
      ["v", "a", 1], ["v", "b", 2],
    ]);
    const ds = leaveOneOut(r, keepAll(r.log), { name: "t", protocol: "none" });
    expect(ds.users).toEqual(["u"]);
    // v dropped, so only items u used remain; b (2) and c (3) tie at t=5 -> b first.
    expect(ds.catalog.items.map((i) => i.rawId)).toEqual(["", "a", "b", "c", "d"]);
    expect([...ds.train[0]]).toEqual([1, 2]);
    expect(ds.val[0]).toBe(3);
    expect(ds.test[0]).toBe(4);
  });
});

describe("k-core", () => {
  // Users a..e each rate items 1..5; user f rates 1..4 and item 6 (6 has one rater).
  const rows: [string, string, number][] = [];
  for (const u of ["a", "b", "c", "d", "e"]) for (let i = 1; i <= 5; i++) rows.push([u, String(i), i]);
  for (let i = 1; i <= 4; i++) rows.push(["f", String(i), i]);
  rows.push(["f", "6", 9]);
  const r = raw(rows);

  it("single pass (LRURec): items first, then users; no second round", () => {
    const keep = kcoreSinglePass(r.log, keepAll(r.log), 5, 5);
    // item 6 goes (1 rater) -> f has 4 rows -> f goes; item 5 keeps 5 raters.
    expect(count(keep)).toBe(25);
  });

  it("single pass differs from iterating when a user removal breaks an item", () => {
    const rows2: [string, string, number][] = [];
    for (const u of ["a", "b", "c", "d", "e"]) for (let i = 1; i <= 5; i++) rows2.push([u, String(i), i]);
    for (const u of ["a", "b", "c", "d"]) rows2.push([u, "6", 9]);
    // x has 4 rows, so it goes as a user; it was item 6's fifth rater.
    for (const i of ["6", "1", "2", "3"]) rows2.push(["x", i, 1]);
    const r2 = raw(rows2);
    const single = kcoreSinglePass(r2.log, keepAll(r2.log), 5, 5);
    expect(count(single)).toBe(29); // item 6 survives with 4 raters: LRURec's published behaviour
    const iter = kcoreIterative(r2.log, keepAll(r2.log), 5, 5);
    expect(count(iter)).toBe(25); // iterating also removes item 6
  });

  it("removes immediate repeats in file order only", () => {
    const r3 = raw([["u", "1", 1], ["u", "1", 2], ["v", "1", 1], ["u", "1", 3], ["u", "2", 4], ["u", "1", 5]]);
    const keep = removeImmediateRepeats(r3.log, keepAll(r3.log));
    expect([...keep]).toEqual([1, 0, 1, 1, 1, 1]);
  });

  it("llamarec drops untitled items before the core; lrurec does not", () => {
    const titles = Object.fromEntries(["1", "2", "3", "4", "5"].map((i) => [i, `Item ${i}`]));
    const withTitles = { ...r, items: new Map(Object.entries(titles).map(([k, v]) => [k, { title: v }])) };
    const ll = applyProtocol(withTitles, { name: "t", protocol: "llamarec", title: (t, id) => t ?? id });
    expect(ll.users.length).toBe(5);
    expect(ll.catalog.size).toBe(5);
    const noTitles = applyProtocol(r, { name: "t", protocol: "lrurec", title: (t, id) => t ?? id });
    expect(noTitles.catalog.size).toBe(5);
    expect(noTitles.catalog.items[1].title).toBe("1");
    expect(() => applyProtocol(r, { name: "t", protocol: "llamarec", title: (t, id) => t ?? id })).toThrow(/no user left/);
    // ... and says how many rows the titles took, the usual cause being ids that do not match the items file
    expect(() => applyProtocol(r, { name: "t", protocol: "llamarec", title: (t, id) => t ?? id })).toThrow(
      new RegExp(`dropping items without a title removed ${r.log.length} of ${r.log.length} rows`),
    );
  });
});
