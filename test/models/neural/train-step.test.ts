import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { AdamW, Engine } from "../../../src/engine/index.ts";
import { resolveConfig } from "../../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../../src/models/neural/recommender.ts";
import { TrainStep } from "../../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../../src/models/registry.ts";
import { Rng } from "../../../src/rng.ts";
import { lossGraph } from "../neural-harness.ts";
import { trainSteps } from "./train-steps.ts";

let ds: SequenceDataset;
const engine = Engine.create({ threads: 1 });
beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => engine.dispose());

/** Trains `batches` (lists of example indices) with the given row bucketing; returns losses, rows and parameters. */
function train(model: string, rowBuckets: number, batches: number[][], prepare = false) {
  const r = trainSteps(engine, ds, model, { maxLen: 12, hidden: 16, batchSize: 8, seed: 3 }, batches, { rowBuckets }, (step, filled) => {
    if (!prepare) return;
    expect(step.prepare(filled)).toBeGreaterThan(2);
    expect(step.prepare(filled)).toBe(0); // none went stale
  });
  r.rows.forEach((rows, i) => expect(rows).toBeGreaterThanOrEqual(r.labelled[i]));
  return r;
}

describe("TrainStep row buckets", () => {
  it("the bucket size changes the scored rows, not the training: 1, 4 and 16 buckets give the same losses and parameters", () => {
    // Batches from few examples (small M) to full ones (large M) and back, so graphs are placed smallest first:
    // bigger ones grow the shared compute buffer and the smaller graphs are compiled again when met next.
    const batches = [[0], [1, 2], [3, 4, 5, 6, 7, 8, 9, 10], [11], [12, 13, 14], [15, 16, 17, 18, 19, 20, 21, 22], [23, 24]];
    for (const model of ["sasrec", "lrurec"]) {
      const one = train(model, 1, batches);
      for (const buckets of [4, 16]) {
        const r = train(model, buckets, batches, buckets === 16);
        expect(new Set(r.rows).size, `${model}: ${buckets} buckets`).toBeGreaterThan(2);
        r.losses.forEach((l, i) => expect(l, `${model} step ${i}`).toBeCloseTo(one.losses[i], 6));
        r.params.forEach((p, i) => {
          let worst = 0;
          for (let j = 0; j < p.length; j++) worst = Math.max(worst, Math.abs(p[j] - one.params[i][j]));
          expect(worst, `${model} param ${i}`).toBeLessThan(1e-6);
        });
      }
    }
  }, 60_000);
});

describe("TrainStep loss", () => {
  it("equals the full-softmax CE over every labelled row computed without the row gather (dropout 0, all six models)", () => {
    for (const model of ["sasrec", "lrurec", "bert4rec", "narm", "gru4rec", "caser"]) {
      const def = getNeuralModel(model);
      const off = Object.fromEntries(Object.keys(def.defaults).filter((k) => /dropout$/i.test(k)).map((k) => [k, 0]));
      const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 12, hidden: 16, batchSize: 8, seed: 3, ...off } });
      const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
      const opt = new AdamW(rec.store, { lr: 1e-2, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
      const step = new TrainStep(def, rec, opt, new Rng(43));
      const L = rec.ctx.windowLen;
      const B = config.batchSize;
      const graph = lossGraph(engine, { def, config, nItems: ds.catalog.size, store: rec.store, params: rec.params, ctx: rec.ctx }, B, "eval");
      try {
        const ex = buildExamples(ds, rec.objective, config.maxLen);
        const batch = allocBatch(B, L, rec.objective);
        fillTrainBatch(batch, ds, ex, Int32Array.from({ length: B }, (_, i) => i), rec.objective, config.maxLen, L, new Rng(5));
        // The reference scores every row the encoder returns (its last L' window positions) and ignores label 0.
        const outLen = rec.encoderPositions();
        const targets = outLen === 0 ? batch.labels.slice(0, B) : new Int32Array(B * outLen);
        for (let b = 0; outLen > 0 && b < B; b++) targets.set(batch.labels.subarray(b * L + L - outLen, (b + 1) * L), b * outLen);
        const labelled = targets.reduce((n, y) => n + (y !== 0 ? 1 : 0), 0);
        expect(labelled, model).toBeGreaterThan(0);
        const expected = graph.run({ ids: batch.ids, mask: batch.mask, positions: batch.positions, targets }).loss;
        const got = step.run(batch); // the loss of the forward pass, before this step's update
        expect(step.lastLabelled, model).toBe(labelled);
        expect(got, model).toBeCloseTo(expected, 5);
      } finally {
        graph.dispose();
        step.dispose();
        opt.dispose();
        rec.dispose();
      }
    }
  }, 60_000);
});
