/**
 * One trainer for LLMs on reclm's decoder: full training (reclm's own LM from scratch) and LoRA fine-tuning (a frozen
 * base from any GGUF) go through the same loop as the retrievers (src/train/loop.ts: schedule, validation callback,
 * keep-best, atomic checkpoints, resume, progress, training curves). What is LLM-specific lives here: examples are
 * token sequences with a loss mask, an optimizer step is `batchSize` examples cut into micro-batches whose gradients
 * accumulate (memory stays that of one micro-batch), and the progress bar shows tokens/s.
 *
 * A run with `resume` continues from the checkpoint and ends with the same parameters as an uninterrupted run: the
 * example order derives from (seed, epoch), LoRA dropout draws from a checkpointed stream, and the micro-batch cut of a
 * step depends only on its examples.
 */
import type { LongWorkOptions } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { Rng } from "../../rng.ts";
import { AdamW, GradAccumulator, type Engine, type LrSchedule, type ParamStore } from "../../engine/index.ts";
import { runTrainLoop, type LoopResult, type ValidationResult } from "../../train/loop.ts";
import type { LlamaModel } from "../llama.ts";
import { packStep, type LmExample, type LmExampleSource } from "./batches.ts";
import { DecoderGraphs } from "./decoder-graphs.ts";

export interface LlmTrainConfig {
  /** Peak learning rate. */
  lr: number;
  /** Shape after warmup: constant, cosine or linear decay to `minLr` at the end of the schedule. */
  schedule: "constant" | "cosine" | "linear";
  warmupSteps: number;
  minLr: number;
  /** Optimizer steps the decaying schedules span; default: epochs × steps per epoch. */
  scheduleSteps?: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 = none. */
  clipNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Examples per optimizer step. */
  batchSize: number;
  /** Examples per forward/backward; gradients of batchSize / microBatch micro-batches accumulate. */
  microBatch: number;
  epochs: number;
  /** Validate every this many steps (0: at each epoch's end). */
  validateEvery: number;
  patience: number;
  /** Sequence lengths are padded up to a multiple of this. */
  lengthBucket: number;
  seed: number;
}

export const LLM_TRAIN_DEFAULTS: Readonly<LlmTrainConfig> = Object.freeze({
  lr: 1e-4,
  schedule: "constant",
  warmupSteps: 0,
  minLr: 0,
  weightDecay: 0,
  clipNorm: 1,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  batchSize: 16,
  microBatch: 4,
  epochs: 1,
  validateEvery: 100,
  patience: 20,
  lengthBucket: 32,
  seed: 42,
});

/** A decoder ready to train: its parameters (frozen base and/or trainable ones) in one store. */
export interface TrainableDecoder {
  engine: Engine;
  store: ParamStore;
  model: LlamaModel;
  /** Longest sequence the model takes (its context length). */
  maxLength: number;
}

export interface LlmTrainOptions extends LongWorkOptions {
  decoder: TrainableDecoder;
  examples: LmExampleSource;
  config: LlmTrainConfig;
  /** Scores the current parameters (held-out perplexity, a ranking metric...); higher `value` is better. */
  validate: (graphs: DecoderGraphs) => Promise<ValidationResult>;
  /** Shown on the bar and drawn in the curves. */
  selectMetric: string;
  /** What the run is, for the bar and errors ("lm on embedded", "a ranker on ml-1m"). */
  name: string;
  maxSteps?: number;
  runDir?: string;
  resume?: boolean;
  /** Checkpoints hold only trainable parameters (LoRA over a frozen base) or all (a model trained from scratch). */
  checkpointParams: "all" | "trainable";
  curveMetrics?: readonly string[];
  afterValidation?: Parameters<typeof runTrainLoop>[0]["afterValidation"];
}

export interface LlmTrainResult extends LoopResult {
  /** Labelled tokens per second over the run's optimizer steps (resumes included); undefined when none was timed. */
  tokensPerSecond: number | undefined;
  /** All tokens (prompt included) per second over the run's optimizer steps; undefined when none was timed. */
  inputTokensPerSecond: number | undefined;
  computeBytes: number;
}

export function checkLlmTrainConfig(c: LlmTrainConfig): void {
  const bad = (field: string, why: string) => new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} ${why}`, { field });
  for (const k of ["lr", "minLr", "weightDecay", "clipNorm", "eps"] as const) if (!(Number.isFinite(c[k]) && c[k] >= 0)) throw bad(k, `must be a finite number >= 0, got ${c[k]}`);
  for (const k of ["beta1", "beta2"] as const) if (!(c[k] >= 0 && c[k] < 1)) throw bad(k, `must be in [0, 1), got ${c[k]}`);
  for (const k of ["batchSize", "microBatch", "epochs", "lengthBucket"] as const) if (!(Number.isInteger(c[k]) && c[k] > 0)) throw bad(k, `must be a positive integer, got ${c[k]}`);
  for (const k of ["warmupSteps", "validateEvery", "patience"] as const) if (!(Number.isInteger(c[k]) && c[k] >= 0)) throw bad(k, `must be a non-negative integer, got ${c[k]}`);
  if (c.batchSize % c.microBatch !== 0) throw bad("batchSize", `(${c.batchSize}) must be a multiple of microBatch (${c.microBatch})`);
  if (!["constant", "cosine", "linear"].includes(c.schedule)) throw bad("schedule", `must be constant, cosine or linear, got ${JSON.stringify(c.schedule)}`);
  if (c.scheduleSteps !== undefined && !(Number.isInteger(c.scheduleSteps) && c.scheduleSteps > 0)) throw bad("scheduleSteps", `must be a positive integer, got ${c.scheduleSteps}`);
  if (!Number.isInteger(c.seed)) throw bad("seed", `must be an integer, got ${c.seed}`);
}

function schedule(c: LlmTrainConfig, stepsPerEpoch: number): LrSchedule {
  const totalSteps = c.scheduleSteps ?? c.epochs * stepsPerEpoch;
  if (c.schedule === "constant") {
    return c.warmupSteps > 0 ? { kind: "linear", lr: c.lr, warmup: c.warmupSteps, totalSteps: Number.MAX_SAFE_INTEGER, minLr: c.lr } : { kind: "constant", lr: c.lr };
  }
  return { kind: c.schedule, lr: c.lr, warmup: c.warmupSteps, totalSteps, minLr: c.minLr };
}

/** Trains the decoder's trainable parameters; leaves the best ones (by `validate`) in the store. */
export async function trainLlm(o: LlmTrainOptions): Promise<LlmTrainResult> {
  const c = o.config;
  checkLlmTrainConfig(c);
  const { engine, store, model } = o.decoder;
  const root = new Rng(c.seed);
  const dropoutRng = root.fork();
  const shuffleSeed = root.nextU32();
  const optimizer = new AdamW(store, { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, clipNorm: c.clipNorm > 0 ? c.clipNorm : undefined });
  const accumulator = c.batchSize > c.microBatch ? new GradAccumulator(store) : undefined;
  const graphs = new DecoderGraphs({ engine, store, model, dropoutRng, optimizer, accumulator });
  const pack = { microBatch: c.microBatch, lengthBucket: c.lengthBucket, maxLength: o.decoder.maxLength, vocabSize: model.config.vocabSize };
  try {
    const loop = await runTrainLoop({
      name: o.name,
      exampleCount: o.examples.length,
      batchSize: c.batchSize,
      epochs: c.epochs,
      maxSteps: o.maxSteps,
      validateEvery: c.validateEvery,
      patience: c.patience,
      selectMetric: o.selectMetric,
      shuffleSeed,
      schedule: schedule(c, Math.ceil(o.examples.length / c.batchSize)),
      optimizer,
      store,
      rngs: { dropout: dropoutRng },
      checkpointParams: o.checkpointParams,
      runDir: o.runDir,
      resume: o.resume,
      curvesTitle: o.name,
      curveMetrics: o.curveMetrics,
      onProgress: o.onProgress,
      signal: o.signal,
      afterValidation: o.afterValidation,
      step: (idx) => {
        const examples: LmExample[] = Array.from(idx, (i) => o.examples.example(i));
        const batches = packStep(examples, pack, "training example");
        const loss = graphs.trainStep(batches);
        const labelled = batches.reduce((s, b) => s + b.labelled, 0);
        const tokens = batches.reduce((s, b) => s + b.realTokens, 0);
        return { loss, counts: { tokens, "labelled tokens": labelled } };
      },
      validate: () => o.validate(graphs),
    });
    return {
      ...loop,
      tokensPerSecond: loop.ratesPerSecond["labelled tokens"],
      inputTokensPerSecond: loop.ratesPerSecond.tokens,
      computeBytes: graphs.computeBytes,
    };
  } finally {
    graphs.dispose();
    accumulator?.dispose();
    optimizer.dispose();
  }
}

/** Mean loss per labelled token of `examples` under the current parameters (exp of it is the perplexity). */
export function heldOutLoss(graphs: DecoderGraphs, examples: LmExampleSource, decoder: TrainableDecoder, options: { microBatch: number; lengthBucket: number; chunk?: number }): number {
  const chunk = options.chunk ?? 64;
  const pack = { microBatch: options.microBatch, lengthBucket: options.lengthBucket, maxLength: decoder.maxLength, vocabSize: decoder.model.config.vocabSize };
  let weighted = 0;
  let tokens = 0;
  for (let s = 0; s < examples.length; s += chunk) {
    const part = Array.from({ length: Math.min(chunk, examples.length - s) }, (_, i) => examples.example(s + i));
    const batches = packStep(part, pack, "held-out example");
    const n = batches.reduce((acc, b) => acc + b.labelled, 0);
    // packStep weights each chunk's rows 1/n: its loss is the chunk's mean; re-weight to the mean over all chunks.
    weighted += graphs.evalLoss(batches) * n;
    tokens += n;
  }
  if (tokens === 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", "no held-out tokens to score", { field: "examples" });
  return weighted / tokens;
}
