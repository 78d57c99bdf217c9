import { describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { RankingExamples } from "../../../src/methods/llamarec/examples.ts";

function dataset(train: number[][], nItems: number): SequenceDataset {
  return {
    name: "toy",
    protocol: "test",
    catalog: { size: nItems, items: Array.from({ length: nItems + 1 }, (_, i) => ({ rawId: String(i), title: `item ${i}` })) },
    users: train.map((_, u) => `u${u}`),
    train: train.map((s) => Int32Array.from(s)),
    val: Int32Array.from(train, () => 1),
    test: Int32Array.from(train, () => 2),
  };
}

describe("LlamaRec training examples (every prefix of 2+ items, 19 negatives outside the prefix)", () => {
  const seqs = [
    Array.from({ length: 30 }, (_, i) => 1 + i),
    [40, 41, 42],
    [50],
  ];
  const ds = dataset(seqs, 100);
  const examples = new RankingExamples(ds, { seed: 7 });

  it("has one example per training prefix of length 2 or more, in user order", () => {
    expect(examples.length).toBe(29 + 2 + 0);
    expect(examples.example(0).user).toBe(0);
    expect(examples.example(29).user).toBe(1);
    expect(() => examples.example(31)).toThrow(/outside 0..30/);
  });

  it("shows the last 20 items before the answer and letters the answer among 20 distinct candidates outside the prefix", () => {
    for (let i = 0; i < examples.length; i++) {
      const ex = examples.example(i);
      const seq = seqs[ex.user];
      const end = ex.user === 0 ? i + 2 : i - 29 + 2;
      const target = seq[end - 1];
      expect(Array.from(ex.history)).toEqual(seq.slice(Math.max(0, end - 1 - 20), end - 1));
      expect(ex.candidates).toHaveLength(20);
      expect(ex.candidates[ex.answer]).toBe(target);
      expect(new Set(ex.candidates).size).toBe(20);
      const prefix = new Set(seq.slice(0, end - 1));
      for (const c of ex.candidates) {
        expect(prefix.has(c)).toBe(false);
        expect(c >= 1 && c <= 100).toBe(true);
      }
    }
  });

  it("draws each example's candidates from (seed, user, prefix) alone: any order gives the same, another seed differs", () => {
    const again = new RankingExamples(ds, { seed: 7 });
    const reversed = Array.from({ length: examples.length }, (_, k) => examples.length - 1 - k).map((i) => again.example(i)).reverse();
    for (let i = 0; i < examples.length; i++) expect(reversed[i]).toEqual(examples.example(i));
    const other = new RankingExamples(ds, { seed: 8 });
    const same = Array.from({ length: examples.length }, (_, i) => other.example(i).candidates.join() === examples.example(i).candidates.join());
    expect(same.filter(Boolean).length).toBeLessThan(2);
    // the answer's letter is spread over the positions, not fixed
    expect(new Set(Array.from({ length: examples.length }, (_, i) => examples.example(i).answer)).size).toBeGreaterThan(8);
  });

  it("refuses settings and catalogues that cannot give the candidates asked", () => {
    expect(() => new RankingExamples(ds, { seed: 1.5 })).toThrow(/seed/);
    expect(() => new RankingExamples(ds, { seed: 1, candidates: 0 })).toThrow(/candidates/);
    expect(() => new RankingExamples(ds, { seed: 1, maxHistory: 0 })).toThrow(/maxHistory/);
    const small = new RankingExamples(dataset([[1, 2, 3, 4, 5]], 20), { seed: 1 });
    expect(() => small.example(3)).toThrow(/user u0: only 15 items are outside a training prefix of 5 items, 19 negatives asked/);
    // a small catalogue with enough room still fills every candidate (the pool path of the sampler)
    const tight = new RankingExamples(dataset([[1, 2, 3]], 25), { seed: 1 });
    expect(new Set(tight.example(1).candidates).size).toBe(20);
  });
});
