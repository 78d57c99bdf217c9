import { describe, expect, it } from "vitest";
import type { Ranker } from "../../src/contracts.ts";
import { buildApp } from "../../src/serve/app.ts";
import { serialRanker } from "../../src/serve/serial-ranker.ts";
import { ScriptedRetriever, tinyDataset } from "./fixtures.ts";

/** A ranker that takes `ms`, records how many of its calls overlap, and fails on a candidate list starting with 99. */
function slowRanker(ms: number): Ranker & { most: number } {
  let now = 0;
  const r = {
    name: "slow",
    most: 0,
    async rank(_h: Int32Array, c: Int32Array): Promise<Float32Array> {
      r.most = Math.max(r.most, ++now);
      try {
        await new Promise((res) => setTimeout(res, ms));
        if (c[0] === 99) throw new Error("ranker failed");
        return Float32Array.from(c, (x) => -x);
      } finally {
        now--;
      }
    },
  };
  return r;
}

describe("serialRanker", () => {
  it("runs one call at a time, in order, and a failure does not block the next", async () => {
    const inner = slowRanker(10);
    const s = serialRanker(inner, 10);
    const done: number[] = [];
    const calls = [1, 2, 99, 4].map((c, i) =>
      s.rank(Int32Array.of(1), Int32Array.of(c)).then(
        (v) => (done.push(i), v[0]),
        (e: Error) => (done.push(i), e.message),
      ),
    );
    expect(await Promise.all(calls)).toEqual([-1, -2, "ranker failed", -4]);
    expect(done).toEqual([0, 1, 2, 3]);
    expect(inner.most).toBe(1);
  });

  it("refuses with RECLM_ERR_OVERLOADED when maxWaiting calls already wait", async () => {
    const s = serialRanker(slowRanker(20), 2);
    const calls = [1, 2, 3, 4, 5].map((c) => s.rank(Int32Array.of(1), Int32Array.of(c)));
    const settled = await Promise.allSettled(calls);
    expect(settled.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "rejected"]);
    expect((settled[3] as PromiseRejectedResult).reason).toMatchObject({ code: "RECLM_ERR_OVERLOADED", statusCode: 503 });
  });

  it("keeps concurrent rank: true requests to the app from overlapping in the ranker, shedding the excess with 503", async () => {
    const ranker = slowRanker(30);
    const app = await buildApp({ models: { dataset: tinyDataset(), retriever: new ScriptedRetriever(8), ranker }, maxRankWaiting: 1 });
    try {
      const replies = await Promise.all([1, 2, 3, 4].map(() => app.inject({ method: "POST", url: "/v1/recommend", payload: { history: ["a"], rank: true, k: 3 } })));
      expect(ranker.most).toBe(1);
      expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 200, 503, 503]);
      expect(replies.find((r) => r.statusCode === 503)!.json()).toMatchObject({ code: "RECLM_ERR_OVERLOADED" });
    } finally {
      await app.close();
    }
  });
});
