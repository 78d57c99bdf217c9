import { describe, expect, it } from "vitest";
import type { Ranker, SequentialRecommender } from "../../../src/contracts.ts";
import { RetrieveThenRank } from "../../../src/methods/llamarec/retrieve-then-rank.ts";

/** Scores item i as i (so the top items are the highest ids). */
const retriever: SequentialRecommender = {
  name: "ids",
  nItems: 30,
  async scoreAll(histories) {
    const out = new Float32Array(histories.length * 31);
    for (let b = 0; b < histories.length; b++) for (let i = 0; i <= 30; i++) out[b * 31 + i] = i;
    return out;
  },
};
/** Prefers even items, then lower ids. */
const ranker: Ranker = {
  name: "even-first",
  async rank(_h, candidates) {
    return Float32Array.from(candidates, (c) => (c % 2 === 0 ? 100 : 0) - c / 100);
  },
};

describe("RetrieveThenRank", () => {
  it("re-orders the retriever's top-N (history masked) by the ranker, then continues in the retriever's order", async () => {
    const rec = new RetrieveThenRank(retriever, ranker, { candidates: 5 });
    // history holds 30 and 27: the retriever's top-5 are then 29, 28, 26, 25, 24
    const got = await rec.recommend(Int32Array.from([30, 27]), { k: 8 });
    expect(got.map((r) => r.item)).toEqual([24, 26, 28, 25, 29, 23, 22, 21]);
    expect(rec.lastTimings.retrieveMs).toBeGreaterThanOrEqual(0);
    const seen = await rec.recommend(Int32Array.from([30, 27]), { k: 3, excludeSeen: false });
    expect(seen.map((r) => r.item)).toEqual([26, 28, 30]);
  });

  it("fuses the ranker's scores with the retriever's when asked: 1 keeps the retriever's order, between trades them off", async () => {
    const history = Int32Array.from([30, 27]);
    const items = async (fusionWeight: number) => (await new RetrieveThenRank(retriever, ranker, { candidates: 5, fusionWeight }).recommend(history, { k: 5 })).map((r) => r.item);
    expect(await items(0)).toEqual([24, 26, 28, 25, 29]);
    expect(await items(1)).toEqual([29, 28, 26, 25, 24]);
    // The ranker's 100-point gap between even and odd outweighs the retriever's 1-point steps until w is near 1.
    expect(await items(0.5)).toEqual([28, 26, 24, 29, 25]);
    expect(() => new RetrieveThenRank(retriever, ranker, { fusionWeight: -0.1 })).toThrow(/fusionWeight must be a number in \[0, 1\]/);
  });

  it("refuses an empty history and a bad k, naming the field", async () => {
    const rec = new RetrieveThenRank(retriever, ranker);
    await expect(rec.recommend(new Int32Array(0), { k: 5 })).rejects.toMatchObject({ location: { field: "history" } });
    await expect(rec.recommend(Int32Array.from([1]), { k: 0 })).rejects.toMatchObject({ location: { field: "k" } });
  });
});
