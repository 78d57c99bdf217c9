import { describe, expect, it } from "vitest";
import { metricsFromRanks } from "../../src/eval/metrics.ts";
import { ndcgPerUser, pairedComparison, rankerVersusRetriever } from "../../src/eval/significance.ts";
import { Rng } from "../../src/rng.ts";

describe("pairedComparison", () => {
  it("finds no difference between a method and itself: diff 0, interval [0, 0], p 1", () => {
    const a = [0.1, 0.5, 0, 1, 0.3];
    const c = pairedComparison(a, a, { resamples: 500 });
    expect(c).toMatchObject({ n: 5, diff: 0, ci95: [0, 0], pValue: 1 });
  });

  it("calls a consistent gain significant and a coin-flip one not, with the interval around the mean difference", () => {
    const rng = new Rng(3);
    const b = Array.from({ length: 200 }, () => rng.next());
    const better = b.map((v) => v + 0.05 + 0.01 * rng.normal());
    const c = pairedComparison(better, b, { resamples: 2000, seed: 1 });
    expect(c.diff).toBeCloseTo(0.05, 2);
    expect(c.pValue).toBeLessThan(0.001);
    expect(c.ci95[0]).toBeGreaterThan(0.045);
    expect(c.ci95[1]).toBeLessThan(0.055);
    // Differences of random sign: the interval covers 0 and p is large.
    const noisy = b.map((v) => v + (rng.next() < 0.5 ? -0.05 : 0.05));
    const z = pairedComparison(noisy, b, { resamples: 2000, seed: 1 });
    expect(z.ci95[0]).toBeLessThan(0);
    expect(z.ci95[1]).toBeGreaterThan(0);
    expect(z.pValue).toBeGreaterThan(0.01);
  });

  it("is seeded: the same seed repeats its figures, another seed moves only the resampled ones", () => {
    const a = [0.2, 0.9, 0.4, 0.1, 0.7, 0.3];
    const b = [0.1, 0.5, 0.6, 0.1, 0.2, 0.3];
    expect(pairedComparison(a, b, { seed: 7, resamples: 300 })).toEqual(pairedComparison(a, b, { seed: 7, resamples: 300 }));
    expect(pairedComparison(a, b, { seed: 8, resamples: 300 }).diff).toBe(pairedComparison(a, b, { seed: 7, resamples: 300 }).diff);
  });

  it("refuses misaligned, empty or non-finite values and too few resamples", () => {
    expect(() => pairedComparison([1, 2], [1])).toThrow(/must align: 2 against 1/);
    expect(() => pairedComparison([], [])).toThrow(/no users/);
    expect(() => pairedComparison([Number.NaN], [0])).toThrow(/user 0/);
    expect(() => pairedComparison([1], [0], { resamples: 10 })).toThrow(/resamples must be an integer >= 100/);
  });
});

describe("ndcgPerUser", () => {
  it("averages to metricsFromRanks' NDCG@k", () => {
    const ranks = [1, 2, 3, 10, 11, 20];
    const per = ndcgPerUser(ranks, 10);
    expect(per.reduce((s, v) => s + v, 0) / per.length).toBeCloseTo(metricsFromRanks(ranks, [10])["NDCG@10"], 12);
    expect(per[4]).toBe(0);
  });
});

describe("rankerVersusRetriever", () => {
  it("pairs the ranker's subset ranks with the retriever's, and overall keeps the retriever's value outside the subset", () => {
    // 4 users; users 0 and 2 are in the subset. The ranker moves user 0 from rank 3 to 1, user 2 from 1 to 2.
    const retrieval = { ranks: Int32Array.from([3, 50, 1, 40]) };
    const result = { subsetIndex: Int32Array.from([0, 2]), subset: { rankerRanks: Int32Array.from([1, 2]) } };
    const v = rankerVersusRetriever(result, retrieval, { resamples: 200 });
    const gain0 = 1 - 1 / Math.log2(4);
    const loss2 = 1 / Math.log2(3) - 1;
    expect(v.subset.n).toBe(2);
    expect(v.subset.diff).toBeCloseTo((gain0 + loss2) / 2, 12);
    expect(v.overall.n).toBe(4);
    expect(v.overall.diff).toBeCloseTo((gain0 + loss2) / 4, 12);
    expect(() => rankerVersusRetriever({ ...result, subsetIndex: Int32Array.from([0]) }, retrieval)).toThrow(/2 ranker ranks for 1 subset users/);
  });
});
