import { describe, expect, it } from "vitest";
import { ReclmError } from "../../src/errors.ts";
import { metricsFromRanks, metricsMeanOfBatchMeans, rankOfPositive } from "../../src/eval/metrics.ts";

describe("rankOfPositive", () => {
  it("counts strictly better candidates", () => {
    expect(rankOfPositive([0.1, 0.9, 0.5, 0.3], 2)).toBe(2);
    expect(rankOfPositive([0.1, 0.9, 0.5, 0.3], 1)).toBe(1);
    expect(rankOfPositive([0.1, 0.9, 0.5, 0.3], 0)).toBe(4);
  });

  it("counts ties against the positive, so a constant scorer ranks last", () => {
    expect(rankOfPositive([1, 1, 1, 1, 1], 0)).toBe(5);
    expect(rankOfPositive([1, 1, 1, 1, 1], 4)).toBe(5);
    expect(rankOfPositive([2, 1, 1, 0], 1)).toBe(3);
  });

  it("ranks a masked (-Infinity) positive behind everything, masked ones included", () => {
    expect(rankOfPositive([-Infinity, 0.2, -Infinity, 0.1], 0)).toBe(4);
    expect(rankOfPositive([0.3, -Infinity, -Infinity, 0.1], 0)).toBe(1);
  });

  it("honours from/exclude (padding column)", () => {
    expect(rankOfPositive([99, 0.5, 0.4], 2, { from: 1 })).toBe(2);
    expect(rankOfPositive([0.2, 0.5, 0.4, 0.9], 2, { exclude: (i) => i === 3 })).toBe(2);
  });

  it("throws ReclmError on NaN scores, the positive's or another's", () => {
    expect(() => rankOfPositive([NaN, 1], 0)).toThrow(ReclmError);
    expect(() => rankOfPositive([0.5, NaN], 0)).toThrow(/NaN/);
  });

  it("rejects a positive outside the row", () => {
    expect(() => rankOfPositive([1, 2], 2)).toThrow(ReclmError);
    expect(() => rankOfPositive([1, 2], 0, { from: 1 })).toThrow(ReclmError);
  });
});

describe("metricsFromRanks", () => {
  it("matches hand-computed Recall/NDCG/MRR", () => {
    // ranks 1, 3, 6 at k = 5: hits 2/3; NDCG (1 + 1/log2(4)) / 3 = 0.5; MRR (1 + 1/3) / 3
    const m = metricsFromRanks([1, 3, 6], [5]);
    expect(m["Recall@5"]).toBeCloseTo(2 / 3, 12);
    expect(m["NDCG@5"]).toBeCloseTo(0.5, 12);
    expect(m["MRR@5"]).toBeCloseTo(4 / 9, 12);
  });

  it("uses 1/log2(rank+1) for NDCG at each k", () => {
    const m = metricsFromRanks([2], [1, 2, 10]);
    expect(m["Recall@1"]).toBe(0);
    expect(m["NDCG@1"]).toBe(0);
    expect(m["Recall@2"]).toBe(1);
    expect(m["NDCG@2"]).toBeCloseTo(1 / Math.log2(3), 12);
    expect(m["MRR@10"]).toBe(0.5);
  });

  it("works with k larger than any possible rank (short candidate lists)", () => {
    // a 3-candidate list: rank 3 is the worst possible; k = 20 counts it as a hit
    const m = metricsFromRanks([3, 1], [20]);
    expect(m["Recall@20"]).toBe(1);
    expect(m["NDCG@20"]).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(m["MRR@20"]).toBeCloseTo((1 / 3 + 1) / 2, 12);
  });

  it("returns zeros for no users and rejects bad ranks and ks", () => {
    expect(metricsFromRanks([], [5])["Recall@5"]).toBe(0);
    expect(() => metricsFromRanks([0], [5])).toThrow(ReclmError);
    expect(() => metricsFromRanks([1.5], [5])).toThrow(ReclmError);
    expect(() => metricsFromRanks([1], [0])).toThrow(ReclmError);
    expect(() => metricsFromRanks([1], [])).toThrow(ReclmError);
  });
});

describe("metricsMeanOfBatchMeans", () => {
  it("weights a short last batch like a full one (LlamaRec quirk), unlike the per-user mean", () => {
    // batch 2: [1, 100] -> R@1 = 0.5 ; [1] -> R@1 = 1 ; mean of means 0.75 vs per-user 2/3
    const ranks = [1, 100, 1];
    expect(metricsMeanOfBatchMeans(ranks, [1], 2)["Recall@1"]).toBeCloseTo(0.75, 12);
    expect(metricsFromRanks(ranks, [1])["Recall@1"]).toBeCloseTo(2 / 3, 12);
    // equal-size batches give the per-user mean exactly
    expect(metricsMeanOfBatchMeans([1, 100, 1, 3], [5], 2)["NDCG@5"]).toBeCloseTo(metricsFromRanks([1, 100, 1, 3], [5])["NDCG@5"], 12);
  });
});

describe("rankOfPositive against a sort-based reference (property)", () => {
  it("equals the positive's 1-based position when ties sort ahead of it", async () => {
    const fc = await import("fast-check");
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 1, maxLength: 30 }),
        fc.nat(),
        (raw, p) => {
          const scores = raw.map((x) => x / 2);
          const pos = p % scores.length;
          const order = scores
            .map((s, i) => ({ s, i }))
            .sort((a, b) => b.s - a.s || (a.i === pos ? 1 : b.i === pos ? -1 : a.i - b.i));
          return rankOfPositive(scores, pos) === order.findIndex((o) => o.i === pos) + 1;
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});
