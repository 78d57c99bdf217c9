/**
 * The protocols as reclm runs them (the published SQL on DuckDB, src/data/prepare.ts): hand-made cases for each rule,
 * then random logs compared split for split with the TypeScript protocols reclm had before (test/helpers/legacy-protocol).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { datasetStats } from "../../src/data/index.ts";
import { prepareRaw } from "../../src/data/prepare.ts";
import { canonicalSort } from "../../src/data/protocols/canonical.ts";
import type { SqlProtocol } from "../../src/data/protocols/sql.ts";
import { RawLogBuilder, type RawData } from "../../src/data/raw.ts";
import { applyProtocol } from "../helpers/legacy-protocol/index.ts";
import { fullFingerprint } from "../helpers/split-cases.ts";

function raw(rows: [string, string, number][], titles: Record<string, string> = {}): RawData {
  const b = new RawLogBuilder();
  for (const [u, i, t] of rows) b.push(u, i, t);
  return { log: b.build(), items: new Map(Object.entries(titles).map(([k, v]) => [k, { title: v }])) };
}

const title = (t: string | undefined, id: string) => t ?? id;
const prepare = (r: RawData, protocol: SqlProtocol) => prepareRaw(r, { name: "t", protocol, sql: protocol, title });
const interactions = (ds: SequenceDataset) => datasetStats(ds).interactions;
const sequence = (ds: SequenceDataset, u: number) => [...ds.train[u], ds.val[u], ds.test[u]];

describe("canonical ids", () => {
  it("sorts numerically when all ids are integers, else by code unit", () => {
    expect(canonicalSort(["10", "9", "100", "1"])).toEqual(["1", "9", "10", "100"]);
    expect(canonicalSort(["b", "B", "a10", "a9"])).toEqual(["B", "a10", "a9", "b"]);
    expect(canonicalSort(["18446744073709551617", "18446744073709551616"])).toEqual(["18446744073709551616", "18446744073709551617"]);
  });

  it("numbers users and items the same way in SQL, whatever the first appearance", async () => {
    const r = raw([["2", "30", 1], ["2", "10", 2], ["2", "20", 3], ["10", "20", 1], ["10", "10", 2], ["10", "30", 3], ["9", "300", 1], ["9", "100", 2], ["9", "200", 3]]);
    const a = await prepare(r, "none");
    expect(a.users).toEqual(["2", "9", "10"]);
    expect(a.catalog.items.map((i) => i.rawId)).toEqual(["", "10", "20", "30", "100", "200", "300"]);
    expect(sequence(a, 0)).toEqual([3, 1, 2]);
    expect(sequence(a, 2)).toEqual([2, 1, 3]);
  });

  it("orders ids by UTF-16 code units, as JavaScript does, also where UTF-8 byte order differs", async () => {
    // U+FF21 (fullwidth A) sorts after U+1F600 in UTF-8 bytes but before it in UTF-16 code units.
    const ids = ["\u{1F600}", "\uFF21", "a", "é"];
    const r = raw(ids.flatMap((id, k) => [["u", id, k], ["v", id, k]] as [string, string, number][]));
    const ds = await prepare(r, "none");
    expect(ds.catalog.items.slice(1).map((i) => i.rawId)).toEqual(canonicalSort(ids));
    expect(ds.catalog.items.slice(1).map((i) => i.rawId)).toEqual(["a", "é", "\u{1F600}", "\uFF21"]);
  });
});

describe("leave-one-out", () => {
  it("sorts by (timestamp, dense id), splits last/second-last, drops users with < 3 rows", async () => {
    const r = raw([
      ["u", "c", 5], ["u", "b", 5], ["u", "a", 1], ["u", "d", 9],
      ["v", "a", 1], ["v", "b", 2],
    ]);
    const ds = await prepare(r, "none");
    expect(ds.users).toEqual(["u"]);
    // v dropped, so only items u used remain; b (2) and c (3) tie at t=5 -> b first.
    expect(ds.catalog.items.map((i) => i.rawId)).toEqual(["", "a", "b", "c", "d"]);
    expect([...ds.train[0]]).toEqual([1, 2]);
    expect(ds.val[0]).toBe(3);
    expect(ds.test[0]).toBe(4);
  });

  it("keeps every user's items in one Int32Array: train histories are views into it", async () => {
    const ds = await prepare(raw([["u", "a", 1], ["u", "b", 2], ["u", "c", 3], ["u", "d", 4], ["v", "a", 1], ["v", "b", 2], ["v", "c", 3]]), "none");
    expect(ds.train[0].buffer).toBe(ds.train[1].buffer);
    expect(ds.train[1].byteOffset).toBe(ds.train[0].byteOffset + 4 * 4);
  });

  it("breaks equal timestamps in CPython's set order for integer ids under lrurec/llamarec, by dense id otherwise", async () => {
    // set([9, 1]) iterates 1, 9 (ints hash to themselves), and so does the dense order; with 17 and 9 in a table of 8
    // slots, 17 lands in slot 1 and 9 in slot 2... the emulation decides; the legacy TypeScript protocol agrees.
    const rows: [string, string, number][] = [];
    for (const u of ["a", "b", "c", "d", "e"]) for (const i of ["17", "9", "4", "33", "25"]) rows.push([u, i, i === "17" || i === "9" ? 100 : Number(i)]);
    const r = raw(rows, Object.fromEntries(["17", "9", "4", "33", "25"].map((i) => [i, `Item ${i}`])));
    for (const p of ["lrurec", "llamarec", "none"] as const) {
      expect(fullFingerprint(await prepare(r, p)), p).toBe(fullFingerprint(applyProtocol(r, { name: "t", protocol: p, title })));
    }
  });
});

describe("k-core", () => {
  // Users a..e each rate items 1..5; user f rates 1..4 and item 6 (6 has one rater).
  const rows: [string, string, number][] = [];
  for (const u of ["a", "b", "c", "d", "e"]) for (let i = 1; i <= 5; i++) rows.push([u, String(i), i]);
  for (let i = 1; i <= 4; i++) rows.push(["f", String(i), i]);
  rows.push(["f", "6", 9]);
  const r = raw(rows);

  it("single pass (LRURec): items first, then users; no second round", async () => {
    // item 6 goes (1 rater) -> f has 4 rows -> f goes; item 5 keeps 5 raters.
    expect(interactions(await prepare(r, "lrurec"))).toBe(25);
  });

  it("single pass differs from iterating when a user removal breaks an item", async () => {
    const rows2: [string, string, number][] = [];
    for (const u of ["a", "b", "c", "d", "e"]) for (let i = 1; i <= 5; i++) rows2.push([u, String(i), i]);
    for (const u of ["a", "b", "c", "d"]) rows2.push([u, "6", 9]);
    // x has 4 rows, so it goes as a user; it was item 6's fifth rater.
    for (const i of ["6", "1", "2", "3"]) rows2.push(["x", i, 1]);
    const titles = Object.fromEntries(["1", "2", "3", "4", "5", "6"].map((i) => [i, `Item ${i}`]));
    const r2 = raw(rows2, titles);
    expect(interactions(await prepare(r2, "lrurec"))).toBe(29); // item 6 survives with 4 raters: LRURec's published behaviour
    expect(interactions(await prepare(r2, "llamarec"))).toBe(25); // iterating also removes item 6
  });

  it("removes immediate repeats in file order only", async () => {
    // 5 users make every item and user pass the core; u's second (u, 1) row repeats the row before it, its later ones do not.
    const base: [string, string, number][] = [];
    for (const u of ["p", "q", "r", "s", "t"]) for (let i = 1; i <= 5; i++) base.push([u, String(i), i]);
    const r3 = raw([...base, ["u", "1", 1], ["u", "1", 2], ["v", "1", 1], ["u", "1", 3], ["u", "2", 4], ["u", "1", 5], ["u", "3", 6], ["u", "4", 7]]);
    const ds = await prepare(r3, "lrurec");
    const u = ds.users.indexOf("u");
    // kept rows of u: t=1, 3, 4, 5, 6, 7 (t=2 repeated the row before it in the file)
    expect(sequence(ds, u).length).toBe(6);
    expect(ds.users).not.toContain("v");
  });

  it("llamarec drops untitled items before the core; lrurec does not", async () => {
    const titles = Object.fromEntries(["1", "2", "3", "4", "5"].map((i) => [i, `Item ${i}`]));
    const withTitles = { ...r, items: new Map(Object.entries(titles).map(([k, v]) => [k, { title: v }])) };
    const ll = await prepare(withTitles, "llamarec");
    expect(ll.users.length).toBe(5);
    expect(ll.catalog.size).toBe(5);
    const noTitles = await prepare(r, "lrurec");
    expect(noTitles.catalog.size).toBe(5);
    expect(noTitles.catalog.items[1].title).toBe("1");
    await expect(prepare(r, "llamarec")).rejects.toThrow(/no user left/);
    // ... and says how many rows the titles took, the usual cause being ids that do not match the items file
    await expect(prepare(r, "llamarec")).rejects.toThrow(new RegExp(`dropping items without a title removed ${r.log.length} of ${r.log.length} rows`));
  });
});

/** Random logs with what makes splits differ: ties, repeats, thin users and items, odd ids, missing titles. */
const logArb = fc
  .record({
    users: fc.integer({ min: 3, max: 14 }),
    items: fc.integer({ min: 3, max: 12 }),
    rows: fc.integer({ min: 20, max: 160 }),
    idStyle: fc.constantFrom("int", "padded", "text", "unicode", "mixed"),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    titled: fc.double({ min: 0.3, max: 1, noNaN: true }),
  })
  .map((o) => {
    let s = o.seed;
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const itemId = (k: number): string => {
      switch (o.idStyle) {
        case "int": return String(k * 7 + 3);
        case "padded": return k % 3 === 0 ? `0${k}` : String(k);
        case "text": return `it${k}`;
        case "unicode": return ["\u{1F600}", "\uFF21", "é", "Z", "a", "\u00e9x", "日本", "\uE000", "b", "\u{10400}", "x y", "ä"][k % 12] + (k >= 12 ? k : "");
        default: return k % 2 ? String(k) : `m${k}`;
      }
    };
    const rows: [string, string, number][] = [];
    for (let k = 0; k < o.rows; k++) {
      const u = Math.floor(next() ** 1.5 * o.users);
      const i = Math.floor(next() ** 2 * o.items);
      const row: [string, string, number] = [`u${u}`, itemId(i), Math.floor(next() * 6)];
      rows.push(row);
      if (next() < 0.1) rows.push([...row]); // an immediate repeat
    }
    const titles: Record<string, string> = {};
    for (let k = 0; k < o.items; k++) if (next() < o.titled) titles[itemId(k)] = next() < 0.1 ? "  " : `Title ${k}`;
    return raw(rows, titles);
  });

describe("the SQL protocols give the splits of the TypeScript ones they replaced", () => {
  it.each(["lrurec", "llamarec", "none"] as const)("%s on random logs", async (protocol) => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(logArb, async (r) => {
        let before: SequenceDataset | Error;
        try {
          before = applyProtocol(r, { name: "t", protocol, title });
        } catch (e) {
          before = e as Error;
        }
        if (before instanceof Error) {
          await expect(prepare(r, protocol)).rejects.toThrow(before.message);
          return;
        }
        expect(fullFingerprint(await prepare(r, protocol))).toBe(fullFingerprint(before));
        compared++;
      }),
      { numRuns: 40, seed: 7 },
    );
    expect(compared).toBeGreaterThan(10);
  }, 60_000);
});
