import { describe, expect, it } from "vitest";
import { ReclmError } from "../../src/errors.ts";
import { candidateRanking, sampledCandidates } from "../../src/eval/candidates.ts";
import { fullRanking, retrieveTopK, topK } from "../../src/eval/full-ranking.ts";
import { generationExactMatch, llaraHitRatio } from "../../src/eval/generation.ts";
import { llamarecRows, llamarecSubsetOverall, rankRetrievedCandidates } from "../../src/eval/llamarec.ts";
import { metricsFromRanks } from "../../src/eval/metrics.ts";
import { formatMetricsTable, toJson } from "../../src/eval/report.ts";
import { fixedScorer, tinyDataset } from "./fixtures.ts";

// 6 items. u0: train [1,2], val 3, test 4 ; u1: train [5], val 6, test 1 ; u2: train [2,3], val 4, test 2 (target in history)
const ds = tinyDataset(
  [
    [1, 2, 3, 4],
    [5, 6, 1],
    [2, 3, 4, 2],
  ],
  6,
);
// score(i) = i: a fixed ranking 6 > 5 > 4 > 3 > 2 > 1 for every user
const byId = fixedScorer(6, () => [100, 1, 2, 3, 4, 5, 6]);

describe("fullRanking", () => {
  it("feeds train+val on test and train on val, masks history and padding", async () => {
    const rep = await fullRanking(byId, ds, { split: "test", ks: [1, 3, 10], batchSize: 2 });
    expect(byId.calls.flat().map((h) => Array.from(h))).toEqual([[1, 2, 3], [5, 6], [2, 3, 4]]);
    // u0: history {1,2,3} masked, candidates 4,5,6 ; positive 4 -> rank 3
    // u1: history {5,6} masked ; positive 1 below 4,3,2 -> rank 4
    // u2: history {2,3,4} masked incl. positive 2 -> -Inf, behind all 5 other items (padding excluded) -> rank 6
    expect(Array.from(rep.ranks)).toEqual([3, 4, 6]);
    expect(rep.metrics["Recall@3"]).toBeCloseTo(1 / 3, 12);
    expect(rep.metrics["NDCG@3"]).toBeCloseTo(0.5 / 3, 12);
    expect(rep.metrics["Recall@10"]).toBe(1);
    expect(rep).toMatchObject({ protocol: "full-ranking", model: "fixed", dataset: "tiny", split: "test", nUsers: 3 });
    byId.calls.length = 0;

    const val = await fullRanking(byId, ds, { split: "val", ks: [1] });
    expect(byId.calls.flat().map((h) => Array.from(h))).toEqual([[1, 2], [5], [2, 3]]);
    // u0: masked {1,2}, positive 3 below 6,5,4 -> 4 ; u1: masked {5}, positive 6 -> 1 ; u2: masked {2,3}, positive 4 below 6,5 -> 3
    expect(Array.from(val.ranks)).toEqual([4, 1, 3]);
    byId.calls.length = 0;
  });

  it("without masking ranks among all items", async () => {
    const rep = await fullRanking(byId, ds, { ks: [1], maskHistory: false });
    // positives 4, 1, 2 under 6>5>...>1 -> ranks 3, 6, 5
    expect(Array.from(rep.ranks)).toEqual([3, 6, 5]);
    byId.calls.length = 0;
  });

  it("maskWindow masks only the history's last n items (the papers' code masks its input window)", async () => {
    // test histories: u0 [1,2,3], u1 [5,6], u2 [2,3,4]; window 1 masks only 3, 6 and 4
    const rep = await fullRanking(byId, ds, { ks: [1], maskWindow: 1 });
    // u0: 3 masked; positive 4 below 6, 5 -> 3 ; u1: 6 masked; positive 1 below 5,4,3,2 -> 5 ; u2: 4 masked; 2 below 6,5,3 -> 4
    expect(Array.from(rep.ranks)).toEqual([3, 5, 4]);
    const wide = await fullRanking(byId, ds, { ks: [1], maskWindow: 50 });
    const all = await fullRanking(byId, ds, { ks: [1] });
    expect(Array.from(wide.ranks)).toEqual(Array.from(all.ranks));
    const cands = await retrieveTopK(byId, ds, "test", 2, { maskWindow: 1 });
    expect(cands.candidates.map((c) => Array.from(c))).toEqual([[6, 5], [5, 4], [6, 5]]);
    for (const bad of [0, 1.5, -2]) {
      await expect(fullRanking(byId, ds, { maskWindow: bad })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG", location: { field: "maskWindow" } });
    }
    byId.calls.length = 0;
  });

  it("scores a user subset and reports progress", async () => {
    const seen: number[] = [];
    const rep = await fullRanking(byId, ds, { users: [2, 0], ks: [5], batchSize: 1, onProgress: (p) => seen.push(p.done) });
    expect(Array.from(rep.users)).toEqual([2, 0]);
    expect(Array.from(rep.ranks)).toEqual([6, 3]);
    expect(seen).toEqual([1, 2]);
    byId.calls.length = 0;
  });

  it("ranks a constant scorer last, not first", async () => {
    const constant = fixedScorer(6, () => [0, 1, 1, 1, 1, 1, 1]);
    const rep = await fullRanking(constant, ds, { ks: [1, 5] });
    expect(rep.metrics["Recall@1"]).toBe(0);
    // u0 and u1: 3 and 4 unmasked candidates -> rank = number of unmasked items
    expect(Array.from(rep.ranks)).toEqual([3, 4, 6]);
  });

  it("rejects NaN scores, wrong shapes and a catalogue mismatch with ReclmError", async () => {
    await expect(fullRanking(fixedScorer(6, () => [0, 1, 2, NaN, 4, 5, 6]), ds)).rejects.toThrow(/NaN/);
    const short = { name: "short", nItems: 6, scoreAll: async () => new Float32Array(3) };
    await expect(fullRanking(short, ds)).rejects.toThrow(ReclmError);
    await expect(fullRanking(fixedScorer(5, () => [0, 1, 2, 3, 4, 5]), ds)).rejects.toThrow(/6/);
    await expect(fullRanking(byId, ds, { split: "train" as never })).rejects.toThrow(ReclmError);
  });
});

describe("topK and retrieveTopK", () => {
  it("topK returns best first, ties to the lower id, skipping masked and padding", () => {
    expect(Array.from(topK([9, 0.1, 0.5, 0.5, -Infinity, 0.7], 3))).toEqual([5, 2, 3]);
    expect(Array.from(topK([9, 0.1, 0.5, 0.5, -Infinity, 0.7], 10))).toEqual([5, 2, 3, 1]);
    expect(Array.from(topK([0, 3, 1, 2, 5, 4], 2))).toEqual([4, 5]);
  });

  it("retrieves per-user candidates in score order with hits and full ranks", async () => {
    const r = await retrieveTopK(byId, ds, "test", 2);
    expect(r.candidates.map((c) => Array.from(c))).toEqual([[6, 5], [4, 3], [6, 5]]);
    expect(r.scores.map((s) => Array.from(s))).toEqual([[6, 5], [4, 3], [6, 5]]);
    expect(Array.from(r.positives)).toEqual([4, 1, 2]);
    expect(Array.from(r.hits)).toEqual([0, 0, 0]);
    expect(Array.from(r.ranks)).toEqual([3, 4, 6]);
    expect(Array.from(r.historyLengths)).toEqual([3, 2, 3]);
    const r3 = await retrieveTopK(byId, ds, "test", 3);
    expect(Array.from(r3.hits)).toEqual([1, 0, 0]);
    byId.calls.length = 0;
  });
});

describe("candidateRanking", () => {
  it("ranks the positive inside each list, ties pessimistic", () => {
    const res = candidateRanking({
      candidates: [[10, 20, 30], [7, 8]],
      scores: [[0.2, 0.9, 0.2], [1, 1]],
      positives: [30, 7],
      ks: [1, 2],
    });
    expect(Array.from(res.ranks)).toEqual([3, 2]);
    expect(res.metrics["Recall@2"]).toBe(0.5);
  });

  it("rejects a positive that is not a candidate and misaligned scores", () => {
    expect(() => candidateRanking({ candidates: [[1, 2]], scores: [[1, 2]], positives: [3], ks: [1] })).toThrow(ReclmError);
    expect(() => candidateRanking({ candidates: [[1, 2]], scores: [[1]], positives: [1], ks: [1] })).toThrow(ReclmError);
  });
});

describe("sampledCandidates (LLaRA 1+19)", () => {
  const big = tinyDataset(
    Array.from({ length: 8 }, (_, u) => Array.from({ length: 6 }, (_, t) => 1 + ((u * 7 + t * 3) % 40))),
    40,
  );

  it("draws distinct negatives outside history and target, plus the target, deterministically per (seed, user)", () => {
    const a = sampledCandidates(big, "test", { seed: 7 });
    expect(a.protocol).toBe("llara-1+19");
    a.users.forEach((u, i) => {
      const cands = Array.from(a.candidates[i]);
      expect(cands).toHaveLength(20);
      expect(new Set(cands).size).toBe(20);
      expect(cands[a.positiveIndex[i]]).toBe(big.test[u]);
      const history = new Set([...big.train[u], big.val[u]]);
      for (const c of cands) if (c !== big.test[u]) expect(history.has(c)).toBe(false);
    });
    const b = sampledCandidates(big, "test", { seed: 7 });
    expect(b.candidates.map((c) => Array.from(c))).toEqual(a.candidates.map((c) => Array.from(c)));
    const subset = sampledCandidates(big, "test", { seed: 7, users: [5, 2] });
    expect(Array.from(subset.candidates[0])).toEqual(Array.from(a.candidates[5]));
    expect(Array.from(subset.candidates[1])).toEqual(Array.from(a.candidates[2]));
    const other = sampledCandidates(big, "test", { seed: 8 });
    expect(other.candidates.map((c) => Array.from(c))).not.toEqual(a.candidates.map((c) => Array.from(c)));
  });

  it("shuffles: the positive is not always in the same slot", () => {
    const a = sampledCandidates(big, "test", { seed: 1 });
    expect(new Set(a.positiveIndex).size).toBeGreaterThan(1);
  });

  it("uses the exhaustive path on a small catalogue and fails when too few items remain", () => {
    const small = tinyDataset([[1, 2, 3, 4]], 6);
    const s = sampledCandidates(small, "test", { seed: 3, negatives: 2 });
    expect(new Set(s.candidates[0]).size).toBe(3);
    for (const c of s.candidates[0]) expect([4, 5, 6]).toContain(c);
    expect(() => sampledCandidates(small, "test", { seed: 3, negatives: 3 })).toThrow(ReclmError);
  });
});

describe("llamarecSubsetOverall", () => {
  // retriever = byId with top-3; users 0 (positive 4 at rank 3) is in the subset; users 1, 2 are not.
  it("combines the ranker on the subset with the retriever on the others", async () => {
    const retrieval = await retrieveTopK(byId, ds, "test", 3);
    expect(Array.from(retrieval.candidates[0])).toEqual([6, 5, 4]);
    const ranker = {
      name: "reverse",
      // prefers the lowest ids: puts the positive 4 first among [6,5,4]
      rank: async (_h: Int32Array, c: Int32Array) => Float32Array.from(c, (x) => -x),
    };
    const scores = await rankRetrievedCandidates(ranker, ds, retrieval);
    expect(scores[1]).toBeUndefined();
    const res = llamarecSubsetOverall(retrieval, scores, "reverse", { ks: [1, 5], batchSize: 2 });
    expect([res.nSubset, res.nOther, res.nTotal]).toEqual([1, 2, 3]);
    expect(Array.from(res.subset.rankerRanks)).toEqual([1]);
    expect(res.subset.ranker["Recall@1"]).toBe(1);
    expect(res.subset.retriever["Recall@1"]).toBe(0);
    expect(res.subset.retriever["NDCG@5"]).toBeCloseTo(0.5, 12);
    // others: ranks 4 and 6 -> at k=5 one hit: NOT zero, which a "others are 0" shortcut would get wrong
    expect(res.othersRetriever["Recall@5"]).toBe(0.5);
    expect(res.overall.ranker["Recall@1"]).toBeCloseTo(1 / 3, 12);
    expect(res.overall.ranker["Recall@5"]).toBeCloseTo((1 + 0.5 * 2) / 3, 12);
    // the formula equals the per-user mean of the combined ranks
    const combined = metricsFromRanks([1, 4, 6], [1, 5]);
    for (const k of Object.keys(combined)) expect(res.overall.ranker[k]).toBeCloseTo(combined[k], 12);
    expect(res.overall.retriever["Recall@5"]).toBeCloseTo(2 / 3, 12);
    // batch-mean variant: retriever over all users in batches of 2 at k=1: [3,4] -> 0, [6] -> 0 ; at k=5 [1, 0] -> 0.5
    expect(res.meanOfBatchMeans.overallRetriever["Recall@5"]).toBeCloseTo(0.5, 12);
    const rows = llamarecRows(res);
    expect(rows).toHaveLength(8);
    expect(rows[0]).toMatchObject({ method: "reverse", labels: { protocol: "llamarec-subset", users: 1 }, metrics: res.subset.ranker });
    expect(rows[1]).toMatchObject({ method: "fixed", metrics: res.subset.retriever });
    expect(rows[7].labels.averaging).toBe("mean of batch-2 means");
    byId.calls.length = 0;
  });

  it("requires ranker scores for every subset user", async () => {
    const retrieval = await retrieveTopK(byId, ds, "test", 3);
    expect(() => llamarecSubsetOverall(retrieval, [undefined, undefined, undefined], "x")).toThrow(ReclmError);
    expect(() => llamarecSubsetOverall(retrieval, [], "x")).toThrow(ReclmError);
    byId.calls.length = 0;
  });
});

describe("llaraHitRatio", () => {
  it("counts valid = exactly one candidate in the first line; HR@1 = correct / valid", () => {
    const cands = [
      ["The Matrix", "Alien", "Heat"],
      ["The Matrix", "Alien", "Heat"],
      ["The Matrix", "Alien", "Heat"],
      ["The Matrix", "Alien", "Heat"],
    ];
    const res = llaraHitRatio(
      [
        "  the matrix  \nAlien", // valid (second line ignored), correct
        "Alien or Heat", // two matches: invalid
        "HEAT", // valid, wrong
        "Nothing here", // invalid
      ],
      cands,
      ["The Matrix", "Alien", "Alien", "Heat"],
    );
    expect([res.n, res.valid, res.correct]).toEqual([4, 2, 1]);
    expect(res.metrics["HR@1"]).toBe(0.5);
    expect(res.metrics.ValidRatio).toBe(0.5);
    expect(res.perSample[1].matched).toEqual(["alien", "heat"]);
  });

  it("gives HR@1 = 0 when nothing is valid and rejects misaligned inputs", () => {
    expect(llaraHitRatio(["x"], [["a b"]], ["a b"]).metrics).toEqual({ "HR@1": 0, ValidRatio: 0 });
    expect(() => llaraHitRatio(["x"], [], ["a"])).toThrow(ReclmError);
  });
});

describe("generationExactMatch", () => {
  it("uses the first exact beam, HR@k and NDCG = 1/log2(pos+2)", () => {
    const res = generationExactMatch(
      [
        ["A", "B", "C"],
        ["X", "Y", "Z", "W", "V", "U"],
        ["b", " B "], // case-sensitive, surrounding whitespace ignored
        ["nope"],
      ],
      ["A", "U", "B", "C"],
      [1, 5, 10],
    );
    expect(Array.from(res.positions)).toEqual([0, 5, 1, -1]);
    expect(res.metrics["HR@1"]).toBe(0.25);
    expect(res.metrics["HR@5"]).toBe(0.5);
    expect(res.metrics["HR@10"]).toBe(0.75);
    expect(res.metrics["NDCG@5"]).toBeCloseTo((1 + 1 / Math.log2(3)) / 4, 12);
    expect(res.metrics["NDCG@10"]).toBeCloseTo((1 + 1 / Math.log2(3) + 1 / Math.log2(7)) / 4, 12);
  });
});

describe("report", () => {
  it("prints R/N/M columns ordered by metric then k, and toJson makes typed arrays plain", async () => {
    const rep = await fullRanking(byId, ds, { ks: [10, 5] });
    byId.calls.length = 0;
    const table = formatMetricsTable([{ method: "fixed", labels: { users: rep.nUsers }, metrics: rep.metrics }]);
    const header = table.split("\n")[1];
    expect(header.indexOf("R@5")).toBeLessThan(header.indexOf("R@10"));
    expect(header.indexOf("R@10")).toBeLessThan(header.indexOf("N@5"));
    expect(header.indexOf("N@10")).toBeLessThan(header.indexOf("M@5"));
    expect(table).toContain(rep.metrics["NDCG@5"].toFixed(4));
    const json = toJson(rep) as { ranks: number[] };
    expect(json.ranks).toEqual([3, 4, 6]);
  });
});

describe("topK against a full sort (property)", () => {
  it("returns the k best finite items, ties by lower id", async () => {
    const fc = await import("fast-check");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: -4, max: 4 }), fc.constant(-Infinity)), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 45 }),
        (row, k) => {
          const expected = row
            .map((s, i) => ({ s, i }))
            .filter((o) => o.i > 0 && o.s !== -Infinity)
            .sort((a, b) => b.s - a.s || a.i - b.i)
            .slice(0, k)
            .map((o) => o.i);
          expect(Array.from(topK(row, k))).toEqual(expected);
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
