import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { fullRanking } from "../../src/eval/full-ranking.ts";
import { createBaseline } from "../../src/models/registry.ts";
import { CoocRecommender, transitionCounts } from "../../src/models/cooc.ts";
import { PopRecommender, itemCounts } from "../../src/models/pop.ts";
import { tinyDataset } from "../eval/fixtures.ts";
import { describeWithShared } from "../helpers/shared.ts";

// 5 items; sequences (train..., val, test):
//   u0: 1 2 3 | 4 | 5
//   u1: 2 3   | 1 | 4
//   u2: 3 2 3 | 5 | 2
const ds = tinyDataset(
  [
    [1, 2, 3, 4, 5],
    [2, 3, 1, 4],
    [3, 2, 3, 5, 2],
  ],
  5,
);

const row = (scores: Float32Array, b: number, n = 5) => Array.from(scores.subarray(b * (n + 1), (b + 1) * (n + 1)));

describe("pop", () => {
  it("counts train only for val, train+val for test, never test items", () => {
    // train: 1 x1, 2 x3 (u0, u1, u2), 3 x4 ; val adds 4, 1, 5 ; test items 5, 4, 2 never count
    expect(Array.from(itemCounts(ds, "val"))).toEqual([0, 1, 3, 4, 0, 0]);
    expect(Array.from(itemCounts(ds, "test"))).toEqual([0, 2, 3, 4, 1, 1]);
  });

  it("gives every history the same count row", async () => {
    const pop = PopRecommender.fromDataset(ds, { split: "test" });
    expect(pop.nItems).toBe(5);
    const s = await pop.scoreAll([Int32Array.of(1), Int32Array.of()]);
    expect(row(s, 0)).toEqual([0, 2, 3, 4, 1, 1]);
    expect(row(s, 1)).toEqual([0, 2, 3, 4, 1, 1]);
  });

  it("evaluates end to end with history masking and pessimistic ties", async () => {
    const rep = await fullRanking(createBaseline("pop", ds), ds, { ks: [1, 2, 5] });
    // counts [_,2,3,4,1,1]. u0: mask {1,2,3,4}; 5 is alone -> rank 1.
    // u1: mask {2,3,1}; positive 4 ties with 5 (1 each) -> rank 2.
    // u2: mask {3,2,5}; positive 2 masked -> behind the other 4 items -> rank 5.
    expect(Array.from(rep.ranks)).toEqual([1, 2, 5]);
  });
});

describe("cooc", () => {
  it("counts directed next-item transitions of the visible sequences (CSR, sorted successors)", () => {
    // val split: train only. 1->2, 2->3 (u0,u1), 3->2, 2->3 (u2)  => 1->2:1, 2->3:3, 3->2:1
    const tv = transitionCounts(ds, "val");
    const succ = (t: typeof tv, a: number) =>
      Object.fromEntries(Array.from(t.dst.subarray(t.offsets[a], t.offsets[a + 1]), (b, j) => [b, t.count[t.offsets[a] + j]]));
    expect(succ(tv, 1)).toEqual({ 2: 1 });
    expect(succ(tv, 2)).toEqual({ 3: 3 });
    expect(succ(tv, 3)).toEqual({ 2: 1 });
    // test split adds last-train -> val: 3->4 (u0), 3->1 (u1), 3->5 (u2)
    const tt = transitionCounts(ds, "test");
    expect(succ(tt, 3)).toEqual({ 1: 1, 2: 1, 4: 1, 5: 1 });
    expect(succ(tt, 4)).toEqual({});
  });

  it("scores from the last item with popularity as a tie-breaker below one count", async () => {
    const cooc = CoocRecommender.fromDataset(ds, { split: "test" });
    // pop (test) = [_,2,3,4,1,1], max 4, tieBreak 0.5 -> pop term = 0.5 * c / 4 = [_, .25, .375, .5, .125, .125]
    const s = await cooc.scoreAll([Int32Array.of(1, 2), Int32Array.of(3), Int32Array.of(4)]);
    expect(row(s, 0)).toEqual([0, 0.25, 0.375, 3.5, 0.125, 0.125]); // last item 2: 2->3 x3
    expect(row(s, 1)).toEqual([0, 1.25, 1.375, 0.5, 1.125, 1.125]); // last item 3: ->1,2,4,5 once each
    expect(row(s, 2)).toEqual([0, 0.25, 0.375, 0.5, 0.125, 0.125]); // 4 has no successor: popularity order
  });

  it("sums decayed votes of the last `window` items", async () => {
    const cooc = CoocRecommender.fromDataset(ds, { split: "val", window: 2, decay: 0.5, tieBreak: 0 });
    // history [1, 2]: last 2 -> 3 (x3) weight 1 ; 1 -> 2 (x1) weight 0.5
    const s = await cooc.scoreAll([Int32Array.of(1, 2)]);
    expect(row(s, 0)).toEqual([0, 0, 0.5, 3, 0, 0]);
    expect(cooc.tieBreak).toBe(0);
    expect(CoocRecommender.fromDataset(ds, { window: 3, decay: 0.5 }).tieBreak).toBe(0.125);
  });

  it("ranks val targets by transitions, then popularity, end to end", async () => {
    // val split: transitions 1->2 x1, 2->3 x3, 3->2 x1 ; pop term [_, .125, .375, .5, 0, 0]
    const cooc = await fullRanking(createBaseline("cooc", ds, { split: "val" }), ds, { split: "val", ks: [1] });
    // u0: [1,2,3] -> 4: 3->2 is masked; 4 and 5 both score 0 -> pessimistic rank 2.
    // u1: [2,3] -> 1: 3->2 masked; 1 (.125) beats 4, 5 (0) -> rank 1.
    // u2: [3,2,3] -> 5: 1 (.125) ahead, 4 ties at 0 -> rank 3.
    expect(Array.from(cooc.ranks)).toEqual([2, 1, 3]);
    // from a history ending in 2 the transition 2->3 dominates popularity: 3 first even with pop masked out
    const s = await createBaseline("cooc", ds, { split: "val" }).scoreAll([Int32Array.of(2)]);
    expect(Math.max(...row(s, 0))).toBe(row(s, 0)[3]);
  });

  it("rejects bad configs and unknown history items", async () => {
    expect(() => CoocRecommender.fromDataset(ds, { window: 0 })).toThrow(ReclmError);
    expect(() => CoocRecommender.fromDataset(ds, { decay: 0 })).toThrow(ReclmError);
    await expect(CoocRecommender.fromDataset(ds).scoreAll([Int32Array.of(9)])).rejects.toThrow(ReclmError);
  });
});

describe("createBaseline", () => {
  it("names the valid baselines on an unknown name", () => {
    expect(createBaseline("pop", ds).name).toBe("pop");
    expect(createBaseline("cooc", ds).name).toBe("cooc");
    expect(() => createBaseline("sasrec", ds)).toThrow(/pop, cooc/);
  });
});

describeWithShared("pop and cooc on ml-latest-small (llamarec protocol)", ["data", "ml-latest-small", "ratings.csv"], () => {
  it("evaluate every user; transitions beat popularity; pessimistic ranks stay within the catalogue", async () => {
    const cache = mkdtempSync(join(tmpdir(), "reclm-baselines-"));
    try {
      const real = await loadDataset("ml-latest-small", { protocol: "llamarec", cacheDir: cache });
      const pop = await fullRanking(createBaseline("pop", real), real, { ks: [10, 20] });
      const cooc = await fullRanking(createBaseline("cooc", real), real, { ks: [10, 20] });
      expect(pop.nUsers).toBe(real.users.length);
      expect(Math.max(...pop.ranks)).toBeLessThanOrEqual(real.catalog.size);
      expect(cooc.metrics["Recall@10"]).toBeGreaterThan(pop.metrics["Recall@10"]);
      expect(pop.metrics["Recall@20"]).toBeGreaterThan(0);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
