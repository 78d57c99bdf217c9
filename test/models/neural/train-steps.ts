/**
 * Test helper: a few TrainStep steps of one model on chosen batches, for the tests that compare two ways of running
 * the same steps (row buckets, packed vs padded): per-step losses and row counts, and the parameters at the end.
 */
import type { SequenceDataset } from "../../../src/contracts.ts";
import { AdamW, type Engine } from "../../../src/engine/index.ts";
import { resolveConfig } from "../../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch, type BatchArrays } from "../../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../../src/models/neural/recommender.ts";
import { TrainStep, type TrainStepOptions } from "../../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../../src/models/registry.ts";
import { Rng } from "../../../src/rng.ts";

export interface StepsRun {
  losses: number[];
  /** Gathered (scored) rows, labelled rows and encoder rows per step. */
  rows: number[];
  labelled: number[];
  encoderRows: number[];
  outLen: number;
  params: Float32Array[];
}

/**
 * Trains `model` (preset "none" + `config`, AdamW lr 1e-2) on `batches`, lists of example indices, one step each;
 * batch s's cloze masks draw from Rng(s). `beforeSteps` sees the step and the filled batches first (e.g. to prepare).
 */
export function trainSteps(
  engine: Engine,
  ds: SequenceDataset,
  model: string,
  config: Record<string, unknown>,
  batches: number[][],
  options: TrainStepOptions = {},
  beforeSteps?: (step: TrainStep, filled: BatchArrays[]) => void,
): StepsRun {
  const def = getNeuralModel(model);
  const resolved = resolveConfig(def, { preset: "none", config }).config;
  const rec = new NeuralRecommender(def, resolved, ds.catalog.size, { engine });
  const opt = new AdamW(rec.store, { lr: 1e-2, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
  const step = new TrainStep(def, rec, opt, new Rng(43), options);
  try {
    const ex = buildExamples(ds, rec.objective, resolved.maxLen);
    const filled = batches.map((idx, s) => {
      const b = allocBatch(resolved.batchSize, rec.ctx.windowLen, rec.objective);
      fillTrainBatch(b, ds, ex, idx, rec.objective, resolved.maxLen, rec.ctx.windowLen, new Rng(s));
      return b;
    });
    beforeSteps?.(step, filled);
    const run: StepsRun = { losses: [], rows: [], labelled: [], encoderRows: [], outLen: step.outLen, params: [] };
    for (const b of filled) {
      run.losses.push(step.run(b));
      run.rows.push(step.lastRows);
      run.labelled.push(step.lastLabelled);
      run.encoderRows.push(step.lastEncoderRows);
    }
    run.params = rec.store.list().map((p) => rec.store.read(p));
    return run;
  } finally {
    step.dispose();
    opt.dispose();
    rec.dispose();
  }
}
