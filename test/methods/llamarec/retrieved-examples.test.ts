import { describe, expect, it } from "vitest";
import type { SequenceDataset, SequentialRecommender } from "../../../src/contracts.ts";
import { scanRetrievedExamples } from "../../../src/methods/llamarec/retrieved-examples.ts";
import { resolveFinetuneConfig } from "../../../src/methods/llamarec/run.ts";

const N_ITEMS = 60;

function dataset(train: number[][]): SequenceDataset {
  return {
    name: "toy",
    protocol: "test",
    catalog: { size: N_ITEMS, items: Array.from({ length: N_ITEMS + 1 }, (_, i) => ({ rawId: String(i), title: `item ${i}` })) },
    users: train.map((_, u) => `u${u}`),
    train: train.map((s) => Int32Array.from(s)),
    val: Int32Array.from(train, () => 1),
    test: Int32Array.from(train, () => 2),
  };
}

/** Scores item i by closeness to (last item + 1): the next id is the best guess, the ids after it follow. */
function nextIdRetriever(): SequentialRecommender & { calls: number } {
  return {
    name: "next-id",
    nItems: N_ITEMS,
    calls: 0,
    async scoreAll(histories) {
      this.calls++;
      const out = new Float32Array(histories.length * (N_ITEMS + 1));
      histories.forEach((h, b) => {
        const want = h[h.length - 1] + 1;
        for (let i = 1; i <= N_ITEMS; i++) out[b * (N_ITEMS + 1) + i] = -Math.abs(i - want) - (i < want ? 0.5 : 0);
      });
      return out;
    },
  };
}

// User 0 walks ids 1..30 (the next id is always the answer: every prefix a hit); user 1 jumps far (45 after 3: no
// hit); user 2's answer is its own history item (masked, so never a hit).
const seqs = [Array.from({ length: 30 }, (_, i) => 1 + i), [3, 45], [10, 11, 10]];

describe("LlamaRec training examples with the retriever's candidates (trainCandidates retriever / retriever-shuffled)", () => {
  it("keeps the prefixes whose answer is in the retriever's top-20 (history masked), candidates in its order", async () => {
    const r = await scanRetrievedExamples(dataset(seqs), nextIdRetriever(), { seed: 3, candidates: "retriever", maxExamples: 0 });
    expect(r.total).toBe(29 + 1 + 2);
    expect(r.scanned).toBe(r.total);
    expect(r.hits).toBe(30);
    expect(r.answerFirst).toBe(30);
    expect(r.examples.map((e) => e.user)).toEqual(Array(29).fill(0).concat([2]));
    r.examples.forEach((ex, i) => {
      if (ex.user !== 0) return;
      const end = i + 2;
      const target = seqs[0][end - 1];
      expect(ex.candidates[ex.answer]).toBe(target);
      expect(ex.answer).toBe(0);
      expect(ex.candidates[1]).toBe(target + 1);
      expect(Array.from(ex.history)).toEqual(seqs[0].slice(Math.max(0, end - 1 - 20), end - 1));
      for (const h of seqs[0].slice(0, end - 1)) expect(Array.from(ex.candidates)).not.toContain(h);
      expect(new Set(ex.candidates).size).toBe(ex.candidates.length);
    });
    // User 2's prefix [10, 11] -> 10 misses (10 is masked), but [10, 11, 10]'s first prefix [10] -> 11 is found.
    const u2 = r.examples.filter((e) => e.user === 2);
    expect(u2).toHaveLength(1);
    expect(u2[0].candidates[u2[0].answer]).toBe(11);
  });

  it("shuffles the same candidates deterministically with retriever-shuffled, and stops at maxExamples", async () => {
    const a = await scanRetrievedExamples(dataset(seqs), nextIdRetriever(), { seed: 3, candidates: "retriever-shuffled", maxExamples: 0 });
    const b = await scanRetrievedExamples(dataset(seqs), nextIdRetriever(), { seed: 3, candidates: "retriever-shuffled", maxExamples: 0 });
    const ordered = await scanRetrievedExamples(dataset(seqs), nextIdRetriever(), { seed: 3, candidates: "retriever", maxExamples: 0 });
    expect(a.examples.map((e) => Array.from(e.candidates))).toEqual(b.examples.map((e) => Array.from(e.candidates)));
    a.examples.forEach((ex, i) => {
      expect([...ex.candidates].sort((x, y) => x - y)).toEqual([...ordered.examples[i].candidates].sort((x, y) => x - y));
      expect(ex.candidates[ex.answer]).toBe(ordered.examples[i].candidates[ordered.examples[i].answer]);
    });
    expect(a.examples.filter((e) => e.answer !== 0).length).toBeGreaterThan(10);

    const retriever = nextIdRetriever();
    const few = await scanRetrievedExamples(dataset(seqs), retriever, { seed: 3, candidates: "retriever", maxExamples: 5, chunk: 4 });
    expect(few.examples).toHaveLength(5);
    expect(few.scanned).toBeLessThan(few.total);
    expect(few.hits).toBeGreaterThanOrEqual(5); // hits of the whole last chunk are counted, only 5 kept
    expect(retriever.calls).toBe(few.scanned / 4);
  });

  it("says so when no training prefix has its answer among the candidates", async () => {
    await expect(scanRetrievedExamples(dataset([[3, 45], [5, 50]]), nextIdRetriever(), { seed: 1, candidates: "retriever", maxExamples: 0 })).rejects.toThrow(
      /no training prefix has its answer in next-id's top-20/,
    );
  });

  it("is a fine-tuning field with three values (the paper's uniform the default)", () => {
    expect(resolveFinetuneConfig("ml-latest-small").trainCandidates).toBe("uniform");
    expect(resolveFinetuneConfig("ml-latest-small", { trainCandidates: "retriever" }).trainCandidates).toBe("retriever");
    expect(() => resolveFinetuneConfig("ml-latest-small", { trainCandidates: "hard" }, "cfg.json")).toThrow(/trainCandidates must be one of uniform, retriever, retriever-shuffled/);
  });
});
