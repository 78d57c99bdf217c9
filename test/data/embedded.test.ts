import { describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { datasetStats, historyFor, listDatasets, loadDataset } from "../../src/data/index.ts";
import { EMBEDDED_CONFIG, buildEmbedded, embeddedCatalog } from "../../src/data/embedded/index.ts";

/** Recall@10 on the validation item, history items masked, ties broken against the target (pessimistic). */
function recallAt10(ds: SequenceDataset, score: (h: Int32Array) => Float64Array): number {
  const N = ds.catalog.size;
  let hits = 0;
  for (let u = 0; u < ds.users.length; u++) {
    const h = historyFor(ds, u, "val");
    const s = score(h);
    const seen = new Set(h);
    const target = s[ds.val[u]];
    let better = 0;
    for (let i = 1; i <= N; i++) if (!seen.has(i) && i !== ds.val[u] && s[i] >= target) better++;
    if (better < 10) hits++;
  }
  return hits / ds.users.length;
}

describe("embedded dataset", () => {
  it("loads through the public API with protocol 'embedded' and sane stats", async () => {
    const ds = await loadDataset("embedded");
    expect(ds.name).toBe("embedded");
    expect(ds.protocol).toBe("embedded");
    const st = datasetStats(ds);
    expect(st.users).toBeGreaterThanOrEqual(1000);
    expect(st.users).toBeLessThanOrEqual(2000);
    expect(st.items).toBeGreaterThanOrEqual(500);
    expect(st.items).toBeLessThanOrEqual(1000);
    expect(st.avgLength).toBeGreaterThan(20);
    expect(st.avgLength).toBeLessThan(40);
    expect(listDatasets().find((d) => d.name === "embedded")?.available).toBe(true);
  });

  it("is deterministic and hands out independent copies", async () => {
    const a = await loadDataset("embedded");
    const b = await loadDataset("embedded");
    expect(a.train).toEqual(b.train);
    a.train[0][0] = -1;
    const c = await loadDataset("embedded");
    expect(c.train[0][0]).not.toBe(-1);
    // A different seed gives different data (the seed really drives generation).
    const other = await buildEmbedded({ ...EMBEDDED_CONFIG, seed: 1 });
    expect(other.train.slice(0, 5)).not.toEqual(c.train.slice(0, 5));
  });

  it("embeddedCatalog() is the prepared split's catalog, without preparing it", async () => {
    expect(embeddedCatalog()).toEqual((await loadDataset("embedded")).catalog);
  });

  it("has dense ids 1..N, no repeats per user, readable titles and attributes", async () => {
    const ds = await loadDataset("embedded");
    const N = ds.catalog.size;
    expect(ds.catalog.items.length).toBe(N + 1);
    const used = new Uint8Array(N + 1);
    for (let u = 0; u < ds.users.length; u++) {
      const full = [...historyFor(ds, u, "test"), ds.test[u]];
      expect(new Set(full).size).toBe(full.length);
      for (const i of full) {
        expect(i).toBeGreaterThanOrEqual(1);
        expect(i).toBeLessThanOrEqual(N);
        used[i] = 1;
      }
    }
    expect(used.slice(1).every((x) => x === 1)).toBe(true);
    const titles = ds.catalog.items.slice(1).map((it) => it.title);
    expect(new Set(titles).size).toBe(N);
    for (const t of titles) expect(t).toMatch(/^[A-Z][A-Za-z ]+( Part (II|III|IV))? \(\d{4}\)$/);
    expect(titles.some((t) => t.includes("Part II"))).toBe(true);
    const genres = ds.catalog.items[1].attributes?.genres;
    expect(Array.isArray(genres) && genres.length > 0).toBe(true);
  });

  it("has sequential and co-occurrence structure beyond popularity", async () => {
    const ds = await loadDataset("embedded");
    const N = ds.catalog.size;
    const pop = new Float64Array(N + 1);
    const next = new Map<number, Float64Array>();
    const co = Array.from({ length: N + 1 }, () => new Float64Array(N + 1));
    for (const t of ds.train) {
      for (let i = 0; i < t.length; i++) {
        pop[t[i]]++;
        if (i > 0) {
          let row = next.get(t[i - 1]);
          if (!row) next.set(t[i - 1], (row = new Float64Array(N + 1)));
          row[t[i]]++;
        }
        for (let j = 0; j < t.length; j++) if (j !== i) co[t[i]][t[j]]++;
      }
    }
    const popular = recallAt10(ds, () => pop);
    const markov = recallAt10(ds, (h) => {
      const row = next.get(h[h.length - 1]);
      return Float64Array.from(pop, (p, i) => (row ? row[i] : 0) * 1e4 + p);
    });
    const cooc = recallAt10(ds, (h) => {
      const s = new Float64Array(N + 1);
      for (const x of h) for (let i = 1; i <= N; i++) s[i] += co[x][i] / (pop[x] + 1);
      for (let i = 1; i <= N; i++) s[i] += pop[i] * 1e-6;
      return s;
    });
    expect(markov).toBeGreaterThan(2 * popular);
    expect(cooc).toBeGreaterThan(popular * 1.1);
  });
});
