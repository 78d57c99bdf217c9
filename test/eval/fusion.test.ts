import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateRanking } from "../../src/eval/candidates.ts";
import { retrieveTopK } from "../../src/eval/full-ranking.ts";
import { FUSION_WEIGHT_GRID, fuseCandidateScores, fuseRetrievalScores, selectFusionWeight } from "../../src/eval/fusion.ts";
import { llamarecSubsetOverall } from "../../src/eval/llamarec.ts";
import { fixedScorer, tinyDataset } from "./fixtures.ts";

const order = (s: ArrayLike<number>) => Array.from(s, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b);

describe("fuseCandidateScores", () => {
  it("orders as the ranker at 0 and as the retriever at 1, and trades them off between", () => {
    const ranker = [5, 0, 0.5]; // prefers candidate 0 strongly
    const retriever = [0, 1, 3]; // prefers candidate 2
    expect(order(fuseCandidateScores(ranker, retriever, 0))).toEqual([0, 2, 1]);
    expect(order(fuseCandidateScores(ranker, retriever, 1))).toEqual([2, 1, 0]);
    const mid = fuseCandidateScores(ranker, retriever, 0.5);
    // log-softmax of each, averaged: candidate 0 = (-0.0117 + -3.1698) / 2, candidate 2 = (-4.5117 + -0.1698) / 2
    expect(mid[0]).toBeCloseTo((5 - Math.log(Math.exp(5) + 1 + Math.exp(0.5)) + (0 - Math.log(1 + Math.E + Math.exp(3)))) / 2, 5);
    expect(order(mid)[0]).toBe(0);
    expect(order(fuseCandidateScores(ranker, retriever, 0.7))[0]).toBe(2);
  });

  it("does not depend on either stage's scale offset", () => {
    fc.assert(
      fc.property(
        // Scores on a grid of quarters: no two differ by less than float32 can tell apart after the log-softmax.
        fc.array(fc.integer({ min: -80, max: 80 }).map((v) => v / 4), { minLength: 2, maxLength: 20 }).chain((a) =>
          fc.tuple(fc.constant(a), fc.array(fc.integer({ min: -80, max: 80 }).map((v) => v / 4), { minLength: a.length, maxLength: a.length }), fc.integer({ min: -200, max: 200 }).map((v) => v / 4), fc.integer({ min: 0, max: 20 })),
        ),
        ([a, b, shift, w20]) => {
          const w = w20 / 20;
          const x = fuseCandidateScores(a, b, w);
          const y = fuseCandidateScores(a.map((v) => v + shift), b.map((v) => v - shift), w);
          x.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 2));
          if (w === 1) expect(order(x)).toEqual(order(Float32Array.from(b)));
        },
      ),
    );
  });

  it("keeps a candidate a stage excluded (-Infinity) last, and refuses NaN, bad weights and misaligned lists", () => {
    const f = fuseCandidateScores([3, 2, 1], [0, -Infinity, 0], 0.5);
    expect(f[1]).toBe(-Infinity);
    expect(order(f)).toEqual([0, 2, 1]);
    expect(() => fuseCandidateScores([1, Number.NaN], [0, 0], 0.5)).toThrow(/ranker score 1 is NaN/);
    expect(() => fuseCandidateScores([1, 2], [-Infinity, -Infinity], 0.5)).toThrow(/every retriever score is -Infinity/);
    expect(() => fuseCandidateScores([1, 2], [0, 0], 1.5)).toThrow(/fusionWeight must be a number in \[0, 1\]/);
    expect(() => fuseCandidateScores([1, 2], [0], 0.5)).toThrow(/2 ranker scores for 1 retriever scores/);
  });
});

describe("selectFusionWeight", () => {
  // Items 1..6; the retriever scores item i as i, so its top-3 (history masked) is 6, 5, 4 for users without them.
  const ds = tinyDataset(
    [
      [1, 2, 6, 6],
      [1, 2, 5, 5],
      [1, 3, 4, 4],
      [2, 3, 6, 5],
    ],
    6,
  );
  const byId = fixedScorer(6, () => [0, 1, 2, 3, 4, 5, 6]);

  it("chooses the weight that ranks the validation subset best, the smallest among ties, from the fused figures themselves", async () => {
    const r = await retrieveTopK(byId, ds, "val", 3, { maskHistory: false });
    // A ranker that reverses the retriever: on these users the retriever's order is right more often.
    const ranker = r.candidates.map((c, i) => (r.hits[i] ? Float32Array.from(c, (_, j) => j) : undefined));
    const sel = selectFusionWeight(r, ranker);
    expect(sel.curve.map((c) => c.weight)).toEqual(FUSION_WEIGHT_GRID);
    expect(sel.users).toBe(r.hits.reduce((a, h) => a + h, 0));
    const best = Math.max(...sel.curve.map((c) => c.value));
    expect(sel.curve.find((c) => c.value === best)?.weight).toBe(sel.weight);
    expect(sel.curve[0].value).toBeLessThan(best);
    // The curve's value at the chosen weight is the subset NDCG@10 of the fused scores.
    const fused = fuseRetrievalScores(r, ranker, sel.weight);
    const idx = Array.from(r.hits.keys()).filter((i) => r.hits[i]);
    const direct = candidateRanking({ candidates: idx.map((i) => r.candidates[i]), scores: idx.map((i) => fused[i] as Float32Array), positives: idx.map((i) => r.positives[i]), ks: [10] });
    expect(direct.metrics["NDCG@10"]).toBeCloseTo(sel.curve.find((c) => c.weight === sel.weight)?.value ?? -1, 10);
    expect(llamarecSubsetOverall(r, fused, "f").subset.ranker["NDCG@10"]).toBeCloseTo(direct.metrics["NDCG@10"], 10);
  });

  it("keeps the ranker (0) when it already ranks as well as any fusion", async () => {
    const r = await retrieveTopK(byId, ds, "val", 3, { maskHistory: false });
    const perfect = r.candidates.map((c, i) => (r.hits[i] ? Float32Array.from(c, (id) => (id === r.positives[i] ? 10 : 0)) : undefined));
    expect(selectFusionWeight(r, perfect).weight).toBe(0);
  });

  it("refuses a grid outside [0, 1], a metric without a cut-off and score lists that do not match the users", async () => {
    const r = await retrieveTopK(byId, ds, "val", 3, { maskHistory: false });
    const s = r.candidates.map((c, i) => (r.hits[i] ? new Float32Array(c.length) : undefined));
    expect(() => selectFusionWeight(r, s, { grid: [0, 2] })).toThrow(/grid must be a number in \[0, 1\]/);
    expect(() => selectFusionWeight(r, s, { metric: "NDCG" })).toThrow(/metric must look like NDCG@10/);
    expect(() => fuseRetrievalScores(r, s.slice(1), 0.5)).toThrow(/ranker score lists for/);
  });
});
