import type { SequenceDataset, SequentialRecommender } from "../../src/contracts.ts";

/** A tiny SequenceDataset from full per-user sequences (the last two items become val and test). */
export function tinyDataset(sequences: number[][], nItems: number, name = "tiny"): SequenceDataset {
  return {
    name,
    protocol: "test-fixture",
    catalog: {
      size: nItems,
      items: Array.from({ length: nItems + 1 }, (_, i) => ({ rawId: String(i), title: i === 0 ? "<pad>" : `Item ${i}` })),
    },
    users: sequences.map((_, u) => `u${u}`),
    train: sequences.map((s) => Int32Array.from(s.slice(0, -2))),
    val: Int32Array.from(sequences.map((s) => s[s.length - 2])),
    test: Int32Array.from(sequences.map((s) => s[s.length - 1])),
  };
}

/** A model whose score rows are given per history, keyed by the history's last item (or a fixed row for all). */
export function fixedScorer(nItems: number, rowFor: (history: Int32Array) => number[], name = "fixed"): SequentialRecommender & {
  calls: Int32Array[][];
} {
  const calls: Int32Array[][] = [];
  return {
    name,
    nItems,
    calls,
    async scoreAll(histories) {
      calls.push([...histories]);
      const out = new Float32Array(histories.length * (nItems + 1));
      histories.forEach((h, b) => out.set(rowFor(h), b * (nItems + 1)));
      return out;
    },
  };
}
