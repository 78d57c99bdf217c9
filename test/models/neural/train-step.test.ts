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

let ds: SequenceDataset;
const engine = Engine.create({ threads: 1 });
beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => engine.dispose());

/** Trains `batches` (lists of example indices) with the given row bucketing; returns losses, rows and parameters. */
function train(model: string, rowBuckets: number, batches: number[][], prepare = false) {
  const def = getNeuralModel(model);
  const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 12, hidden: 16, batchSize: 8, seed: 3 } });
  const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  const opt = new AdamW(rec.store, { lr: 1e-2, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
  const step = new TrainStep(def, rec, opt, new Rng(43), rowBuckets);
  const ex = buildExamples(ds, rec.objective, config.maxLen);
  const losses: number[] = [];
  const rows: number[] = [];
  try {
    const filled = batches.map((idx, s) => {
      const b = allocBatch(config.batchSize, rec.ctx.windowLen, rec.objective);
      fillTrainBatch(b, ds, ex, idx, rec.objective, config.maxLen, rec.ctx.windowLen, new Rng(s));
      return b;
    });
    if (prepare) {
      expect(step.prepare(filled)).toBeGreaterThan(2);
      expect(step.prepare(filled)).toBe(0); // biggest first: none went stale
    }
    filled.forEach((b) => {
      losses.push(step.run(b));
      rows.push(step.lastRows);
      expect(step.lastRows).toBeGreaterThanOrEqual(step.lastLabelled);
    });
    return { losses, rows, params: rec.store.list().map((p) => rec.store.read(p)) };
  } finally {
    step.dispose();
    opt.dispose();
    rec.dispose();
  }
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
