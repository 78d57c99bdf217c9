import { describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { Rng } from "../../../src/rng.ts";
import { allocBatch, buildExamples, fillEvalBatch, fillTrainBatch } from "../../../src/models/neural/examples.ts";

/** Users with train sequences of length 1, 3, 7 and 13 (items are 1-based positions offset by 10·user). */
function tinyDataset(lengths: number[], nItems = 200): SequenceDataset {
  const train = lengths.map((n, u) => Int32Array.from({ length: n }, (_, i) => 10 * u + i + 1));
  return {
    name: "tiny",
    protocol: "none",
    catalog: { size: nItems, items: Array.from({ length: nItems + 1 }, (_, i) => ({ rawId: String(i), title: `t${i}` })) },
    users: lengths.map((_, u) => `u${u}`),
    train,
    val: new Int32Array(lengths.length).fill(nItems),
    test: new Int32Array(lengths.length).fill(nItems - 1),
  };
}

function rows(a: Int32Array | Float32Array, L: number): number[][] {
  return Array.from({ length: a.length / L }, (_, b) => Array.from(a.subarray(b * L, (b + 1) * L)));
}

describe("causal examples (LlamaRec LRUTrainDataset, recipes §0)", () => {
  const maxLen = 4;
  const ds = tinyDataset([1, 3, 7, 13]);
  const ex = buildExamples(ds, { kind: "causal" }, maxLen);
  const batch = allocBatch(ex.length, maxLen, { kind: "causal" });
  fillTrainBatch(batch, ds, ex, Int32Array.from({ length: ex.length }, (_, i) => i), { kind: "causal" }, maxLen, maxLen, new Rng(1));
  const ids = rows(batch.ids, maxLen);
  const labels = rows(batch.labels, maxLen);

  it("a short sequence is one example: input 0 predicts seq[0] (label kept, input padding)", () => {
    expect(ids[0]).toEqual([0, 0, 0, 0]);
    expect(labels[0]).toEqual([0, 0, 0, 1]);
    expect(ids[1]).toEqual([0, 0, 11, 12]);
    expect(labels[1]).toEqual([0, 11, 12, 13]);
  });

  it("len < 2·maxLen: labels = seq[-maxLen:], tokens = seq[:-1][-maxLen:] (tokens start one item earlier)", () => {
    // seq = 21..27
    expect(ids[2]).toEqual([23, 24, 25, 26]);
    expect(labels[2]).toEqual([24, 25, 26, 27]);
  });

  it("long sequences become windows from the end; the oldest remainder is dropped", () => {
    // seq = 31..43 (13 items): windows start at 9, 5, 1 → [40..43], [36..39], [32..35]; item 31 is dropped
    expect(ex.length).toBe(6);
    expect(labels.slice(3)).toEqual([
      [40, 41, 42, 43],
      [36, 37, 38, 39],
      [32, 33, 34, 35],
    ]);
    expect(ids.slice(3)).toEqual([
      [0, 40, 41, 42],
      [0, 36, 37, 38],
      [0, 32, 33, 34],
    ]);
  });

  it("mask and 1-based positions count from the first real input", () => {
    expect(rows(batch.mask, maxLen)[1]).toEqual([0, 0, 1, 1]);
    expect(rows(batch.positions, maxLen)[1]).toEqual([0, 0, 1, 2]);
    expect(rows(batch.positions, maxLen)[2]).toEqual([1, 2, 3, 4]);
  });

  it("a padded window (LRURec 2^k) right-aligns the same example", () => {
    const b2 = allocBatch(1, 8, { kind: "causal" });
    fillTrainBatch(b2, ds, ex, [1], { kind: "causal" }, maxLen, 8, new Rng(1));
    expect(Array.from(b2.ids)).toEqual([0, 0, 0, 0, 0, 0, 11, 12]);
    expect(Array.from(b2.labels)).toEqual([0, 0, 0, 0, 0, 11, 12, 13]);
  });

  it("a partial batch leaves all-padding rows with ignored labels", () => {
    const b3 = allocBatch(3, maxLen, { kind: "causal" });
    b3.ids.fill(9);
    b3.labels.fill(9);
    fillTrainBatch(b3, ds, ex, [2], { kind: "causal" }, maxLen, maxLen, new Rng(1));
    expect(rows(b3.ids, maxLen).slice(1)).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
    expect(rows(b3.labels, maxLen).slice(1)).toEqual([[0, 0, 0, 0], [0, 0, 0, 0]]);
    expect(Array.from(b3.mask.subarray(maxLen))).toEqual(new Array(2 * maxLen).fill(0));
  });
});

describe("last-item examples (NARM every prefix, recipes §4)", () => {
  it("one example per prefix, history cut to maxLen, target = next item", () => {
    const ds = tinyDataset([1, 3, 6]);
    const ex = buildExamples(ds, { kind: "last" }, 3);
    expect(ex.length).toBe(0 + 2 + 5);
    const b = allocBatch(ex.length, 3, { kind: "last" });
    fillTrainBatch(b, ds, ex, Int32Array.from({ length: ex.length }, (_, i) => i), { kind: "last" }, 3, 3, new Rng(1));
    const got = rows(b.ids, 3).map((r, i) => [r, b.labels[i]]);
    expect(got).toContainEqual([[0, 11, 12], 13]);
    expect(got).toContainEqual([[0, 0, 11], 12]);
    expect(got).toContainEqual([[23, 24, 25], 26]);
    expect(got).toContainEqual([[0, 0, 21], 22]);
  });
});

describe("cloze masking (BERT4Rec, recipes §3)", () => {
  const ds = tinyDataset([40, 40, 40, 40], 200);
  const obj = { kind: "cloze", maskProb: 0.5, maxPredictions: 6 } as const;
  const L = 20;
  const ex = buildExamples(ds, obj, L);
  const b = allocBatch(ex.length, L, obj);
  fillTrainBatch(b, ds, ex, Int32Array.from({ length: ex.length }, (_, i) => i), obj, L, L, new Rng(3));

  it("labels sit only at chosen positions, hold the original item, at most maxPredictions per row", () => {
    for (let e = 0; e < ex.length; e++) {
      const seq = ds.train[ex.users[e]];
      let n = 0;
      for (let t = 0; t < L; t++) {
        const y = b.labels[e * L + t];
        const orig = seq[ex.ends[e] - L + t];
        if (y !== 0) {
          n++;
          expect(y).toBe(orig);
        } else {
          expect(b.ids[e * L + t]).toBe(orig);
        }
      }
      expect(n).toBeLessThanOrEqual(6);
      expect(n).toBeGreaterThan(0);
    }
  });

  it("most chosen positions hold the mask token N+1; mask token counts as a real input", () => {
    let masked = 0;
    let chosen = 0;
    for (let i = 0; i < b.labels.length; i++) {
      if (b.labels[i] === 0) continue;
      chosen++;
      if (b.ids[i] === 201) {
        masked++;
        expect(b.mask[i]).toBe(1);
      }
    }
    expect(masked / chosen).toBeGreaterThan(0.5);
  });

  it("eval appends the mask token and keeps the last maxLen", () => {
    const e = allocBatch(2, 4, obj);
    fillEvalBatch(e, [Int32Array.of(5, 6, 7, 8, 9), Int32Array.of(3)], obj, 4, 4, 200);
    expect(rows(e.ids, 4)).toEqual([
      [7, 8, 9, 201],
      [0, 0, 3, 201],
    ]);
  });
});
