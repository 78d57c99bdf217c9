/**
 * The trainer's real training step on one fixed batch (the first batchSize training examples), for the engine
 * benchmarks that time or profile a step: step-time.ts, step-profile.ts, model-steps.ts.
 */
import type { SequenceDataset } from "../../src/contracts.ts";
import { AdamW, Engine } from "../../src/engine/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import type { BaseModelConfig } from "../../src/models/neural/contract.ts";
import { allocBatch, buildExamples, fillTrainBatch, type BatchArrays } from "../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { NegativeSampler } from "../../src/models/neural/sampled-softmax.ts";
import { TrainStep } from "../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { Rng } from "../../src/rng.ts";

/** The datasets the step benchmarks (throughput.ts, step-profile.ts) run on, and the protocol each is compared on. */
export const STEP_DATASETS = { "ml-1m": "lrurec-preprocessed", "ml-latest-small": "llamarec" } as const;
export type StepDataset = keyof typeof STEP_DATASETS;

/** `name` as a StepDataset, or an error listing the choices. */
export function stepDataset(name: string): StepDataset {
  if (!Object.hasOwn(STEP_DATASETS, name)) throw new Error(`--dataset must be one of ${Object.keys(STEP_DATASETS).join(", ")}, got "${name}"`);
  return name as StepDataset;
}

/** The throughput contract's ML-1M step (docs/model-recipes.md §8): B 128 × L 200, dropout 0.2. */
export function ml1mStepConfig(model: string): Record<string, unknown> {
  return { batchSize: 128, maxLen: 200, dropout: 0.2, ...(model === "sasrec" ? { attnDropout: 0.2 } : { lruDropout: 0.2 }), seed: 42 };
}

export interface FixedStep {
  config: BaseModelConfig;
  /** The model the step trains (its objective and window build further batches). */
  model: NeuralRecommender<BaseModelConfig>;
  step: TrainStep<BaseModelConfig>;
  batch: BatchArrays;
  dispose(): void;
}

export function fixedTrainStep(ds: SequenceDataset, model: string, options: { preset: string; config?: Record<string, unknown>; threads: number; pack?: boolean }): FixedStep {
  const def = getNeuralModel(model);
  const { config } = resolveConfig(def, { preset: options.preset, config: options.config ?? { seed: 42 } });
  const engine = Engine.create({ threads: options.threads });
  const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  const opt = new AdamW(rec.store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
  const sampled = (config as { softmax?: string }).softmax === "sampled";
  const step = new TrainStep(def, rec, opt, new Rng(43), { sampler: sampled ? NegativeSampler.forDataset(ds) : undefined, pack: options.pack });
  const B = config.batchSize;
  const batch = allocBatch(B, rec.ctx.windowLen, rec.objective);
  const ex = buildExamples(ds, rec.objective, config.maxLen);
  fillTrainBatch(batch, ds, ex, Int32Array.from({ length: B }, (_, i) => i), rec.objective, config.maxLen, rec.ctx.windowLen, new Rng(0));
  return {
    config,
    model: rec,
    step,
    batch,
    dispose: () => {
      step.dispose();
      opt.dispose();
      rec.dispose();
      engine.dispose();
    },
  };
}
