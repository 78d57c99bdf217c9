import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { Engine } from "../../../src/engine/index.ts";
import { allocBatch, type BatchArrays } from "../../../src/models/neural/examples.ts";
import { SequencePacker } from "../../../src/models/neural/packing.ts";
import { trainSteps } from "./train-steps.ts";

let ds: SequenceDataset;
const engine = Engine.create({ threads: 1 });
beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => engine.dispose());

/** A batch of B rows of L from (ids, labels) spans, right-aligned as fillTrainBatch writes them. */
function batchOf(L: number, spans: { ids: number[]; labels: number[] }[]): BatchArrays {
  const b = allocBatch(spans.length, L, { kind: "causal" });
  spans.forEach((s, r) => {
    b.ids.set(s.ids, r * L + L - s.ids.length);
    b.labels.set(s.labels, r * L + L - s.labels.length);
    let pos = 0;
    for (let t = r * L; t < (r + 1) * L; t++) {
      b.mask[t] = b.ids[t] > 0 ? 1 : 0;
      b.positions[t] = b.ids[t] > 0 ? ++pos : 0;
    }
  });
  return b;
}

describe("SequencePacker", () => {
  it("lays spans longest first into the first row with room, each its own segment, the tail one more", () => {
    // spans of 5 (first label before the first item), 3, 6, 2 and an empty row, into rows of 8
    const batch = batchOf(6, [
      { ids: [1, 2, 3, 4], labels: [1, 2, 3, 4, 5] },
      { ids: [7, 8, 9], labels: [8, 9, 10] },
      { ids: [11, 12, 13, 14, 15, 16], labels: [12, 13, 14, 15, 16, 17] },
      { ids: [21, 22], labels: [22, 23] },
      { ids: [], labels: [] },
    ]);
    const p = new SequencePacker(5, 6, 8);
    expect(p.pack(batch)).toBe(2);
    const row = (a: ArrayLike<number>, r: number) => Array.from(a).slice(r * 8, (r + 1) * 8);
    // row 0: the 6-span, then the 2-span; row 1: the 5-span, then the 3-span
    expect(row(p.out.ids, 0)).toEqual([11, 12, 13, 14, 15, 16, 21, 22]);
    expect(row(p.out.segments, 0)).toEqual([1, 1, 1, 1, 1, 1, 2, 2]);
    expect(row(p.out.ids, 1)).toEqual([0, 1, 2, 3, 4, 7, 8, 9]);
    expect(row(p.out.labels, 1)).toEqual([1, 2, 3, 4, 5, 8, 9, 10]);
    expect(row(p.out.mask, 1)).toEqual([0, 1, 1, 1, 1, 1, 1, 1]);
    expect(row(p.out.positions, 1)).toEqual([0, 1, 2, 3, 4, 1, 2, 3]);
    expect(row(p.out.segments, 1)).toEqual([1, 1, 1, 1, 1, 2, 2, 2]);
    // packing again after a shorter batch leaves nothing of the first behind
    expect(p.pack(batchOf(6, [{ ids: [5], labels: [5, 6] }, { ids: [], labels: [] }, { ids: [], labels: [] }, { ids: [], labels: [] }, { ids: [], labels: [] }]))).toBe(1);
    expect(row(p.out.ids, 0)).toEqual([0, 5, 0, 0, 0, 0, 0, 0]);
    expect(row(p.out.labels, 0)).toEqual([5, 6, 0, 0, 0, 0, 0, 0]);
    expect(row(p.out.segments, 0)).toEqual([1, 1, 2, 2, 2, 2, 2, 2]);
    // the row the first batch used beyond it (a trainer rounding the row count up runs it) is all padding again
    expect(row(p.out.ids, 1)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(row(p.out.labels, 1)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(row(p.out.segments, 1)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it("refuses rows shorter than the window", () => {
    expect(() => new SequencePacker(4, 16, 8)).toThrow(/packed rows of 8 positions cannot hold windows of 16/);
  });
});

/** Trains LRURec (dropout 0) on `batches`, packed or not; returns losses, encoder rows and parameters. */
function train(pack: boolean, batches: number[][]) {
  return trainSteps(engine, ds, "lrurec", { maxLen: 24, hidden: 16, batchSize: 8, seed: 3, dropout: 0, lruDropout: 0 }, batches, { pack });
}

describe("packed LRURec training", () => {
  it("gives the padded batch's losses and parameters with fewer encoder rows (dropout 0, 6 steps)", () => {
    const batches = [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10], [11, 12, 13, 14, 15, 16, 17, 18], [19], [20, 21, 22, 23, 24, 25, 26, 27], [28, 29, 30, 31, 32, 33, 34, 35]];
    const padded = train(false, batches);
    const packed = train(true, batches);
    expect(packed.outLen).toBe(32); // maxLen 24 → the scan's power of two
    expect(padded.encoderRows).toEqual([8, 8, 8, 8, 8, 8]);
    // several examples share a row, so the encoder runs on fewer rows than the batch has
    expect(packed.encoderRows.reduce((a, b) => a + b, 0)).toBeLessThan(0.7 * padded.encoderRows.reduce((a, b) => a + b, 0));
    packed.losses.forEach((l, i) => expect(l, `step ${i}`).toBeCloseTo(padded.losses[i], 5));
    packed.params.forEach((p, i) => {
      let worst = 0;
      for (let j = 0; j < p.length; j++) worst = Math.max(worst, Math.abs(p[j] - padded.params[i][j]));
      expect(worst, `param ${i}`).toBeLessThan(2e-5);
    });
  }, 60_000);
});
