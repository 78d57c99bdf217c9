import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Catalog, ItemInfo } from "../../src/contracts.ts";
import { CatalogLookup, normalizeTitle } from "../../src/data/catalog-lookup.ts";

function catalog(titles: string[]): Catalog {
  const items: ItemInfo[] = [{ rawId: "", title: "" }, ...titles.map((title, i) => ({ rawId: `id-${i + 1}`, title }))];
  return { size: titles.length, items } as Catalog;
}

const MOVIES = ["Fargo (1996)", "Diabolique (1996)", "Flipper (1996)", "Heat (1995)", "Heathers (1989)", "Toy Story (1995)", "Toy Story 2 (1999)", "Amélie (2001)", "Twin (2000)", "Twin (2000)", "Emma (1996)"];

describe("CatalogLookup: titles as people type them", () => {
  const lookup = new CatalogLookup(catalog(MOVIES));

  it("ignores case, accents and runs of spaces, and finds raw ids", () => {
    expect(normalizeTitle("  AMÉLIE   (2001) ")).toBe("amelie (2001)");
    expect(lookup.byTitleOrThrow("amelie  (2001)")).toBe(8);
    expect(lookup.byTitleOrThrow("TOY STORY (1995)")).toBe(6);
    expect(lookup.byRawId("id-4")).toBe(4);
    expect(lookup.byRawId("4")).toBeUndefined();
  });

  it("refuses a title several items share, listing their ids", () => {
    expect(() => lookup.byTitleOrThrow("Twin (2000)", "--history[2]")).toThrow(/"Twin \(2000\)" is the title of 2 items \(ids id-9, id-10\): give the id instead/);
  });

  it("suggests the right title for a wrong year, a typo and a missing year, in the error naming the field", () => {
    // Shared words alone tie "Heat (1995)" with every one-word 1996 title; spelling breaks the tie.
    expect(() => lookup.byTitleOrThrow("Heat (1996)", "--history[1]")).toThrow(/^field "--history\[1\]": no item titled "Heat \(1996\)" \(closest: "Heat \(1995\)"/);
    expect(lookup.closest("Toy Stroy (1995)", 1)).toEqual([6]);
    expect(lookup.closest("toy story", 2)).toEqual([6, 7]);
    // No word in common with any title: spelling over the whole (small) catalog.
    expect(lookup.closest("Fargoo", 1)).toEqual([1]);
    expect(lookup.closest("", 3)).toEqual([]);
    expect(lookup.unknownTitleMessage("")).toBe('no item titled ""');
    expect(lookup.unknownTitleMessage("Heat (1996)", 0)).toBe('no item titled "Heat (1996)"');
  });

  it("puts a title that exists first among its own suggestions (property)", () => {
    const title = fc.stringMatching(/^[A-Za-z]{1,8}( [A-Za-z]{1,8}){0,3} \((19|20)\d\d\)$/);
    fc.assert(
      fc.property(fc.uniqueArray(title, { minLength: 1, maxLength: 30, selector: normalizeTitle }), fc.nat(), (titles, pick) => {
        const l = new CatalogLookup(catalog(titles));
        const i = (pick % titles.length) + 1;
        expect(l.closest(titles[i - 1], 1)).toEqual([i]);
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  it("searches by every word in tiers (exact, prefix, word starts, anywhere), then popularity or shorter titles", () => {
    expect(lookup.search("toy story", 5)).toEqual([6, 7]);
    expect(lookup.search("heat", 5)).toEqual([4, 5]);
    expect(lookup.search("story toy", 5)).toEqual([6, 7]);
    expect(lookup.search("ory", 5)).toEqual([6, 7]);
    const popularity = new Float64Array(MOVIES.length + 1);
    popularity[7] = 10;
    popularity[2] = 5;
    const popular = new CatalogLookup(catalog(MOVIES), popularity);
    expect(popular.search("toy story (1995)", 5)).toEqual([6]);
    expect(popular.search("toy story", 5)).toEqual([7, 6]); // both start with the query: the more popular first
    expect(popular.search("story", 5)).toEqual([7, 6]);
    expect(popular.search("toy", 5)).toEqual([7, 6]);
    expect(popular.search("", 2)).toEqual([7, 2]);
    expect(lookup.search("", 2)).toEqual([4, 9]); // the shortest titles, then the lower id
    expect(lookup.search("nothing like it", 5)).toEqual([]);
  });
});
