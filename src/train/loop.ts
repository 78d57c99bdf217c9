/**
 * The one training loop every engine-trained model runs through — the six retrievers (src/models/neural/trainer.ts)
 * and the LLMs (src/llm/train): epochs over a seeded permutation of the examples, one optimizer step per batch of
 * example indices (the caller's `step` does the forward/backward, micro-batches included), the learning-rate
 * schedule, validation at step 0 and every `validateEvery` steps, model selection on a strictly better value,
 * patience, the best trainable parameters kept (in memory and in their own file), atomic checkpoints after every
 * validation and resume that continues exactly where the checkpoint left off, progress reports, training curves.
 *
 * What differs between models stays with the caller: how a batch becomes a loss (`step`) and how a validation is
 * scored (`validate`). Everything else is here once.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { LongWorkOptions } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { loadCheckpoint, lrAt, saveCheckpoint, type AdamW, type LrSchedule, type ParamStore } from "../engine/index.ts";
import { CHECKPOINT_FILE, removeStaleBest, removeStaleTempFiles, writeTrainingCurves } from "./run-dir.ts";

/** Metric name -> value ("Recall@10", "NDCG@10", "loss", ...). */
export type LoopMetrics = Record<string, number>;

export interface ValidationRecord {
  step: number;
  epoch: number;
  /** Mean training loss since the previous validation (null at step 0: JSON-safe, survives a checkpoint). */
  loss: number | null;
  metrics: LoopMetrics;
  /** The value model selection compared, when it is not `metrics[selectMetric]` (e.g. a mean of batch means). */
  selectValue?: number;
  seconds: number;
}

export type StopReason = "patience" | "epochs" | "maxSteps";

/** What one validation gives the loop: every metric, and the value selection compares (higher is better). */
export interface ValidationResult {
  metrics: LoopMetrics;
  value: number;
  /** Recorded as `selectValue` when the compared value is not one of `metrics`. */
  selectValue?: number;
}

/** One optimizer step's outcome: the loss (mean over what the step trained on), and live values for the bar. */
export interface StepResult {
  loss: number;
  /** Examples of this step (default: the indices given). */
  examples?: number;
  /** Extra counts summed for rates, e.g. { tokens: 3072 } gives "tokens/s" on the bar. */
  counts?: Record<string, number>;
}

export interface LoopState {
  step: number;
  epoch: number;
  /** Next example position within the current epoch's permutation. */
  pos: number;
  optStep: number;
  best: { step: number; value: number; metrics: LoopMetrics } | null;
  /** File in the run dir holding the best parameters (written when they improved). */
  bestFile: string | null;
  sinceBest: number;
  validations: ValidationRecord[];
  stopped: StopReason | null;
  seconds: number;
  lossSum: number;
  lossCount: number;
  /**
   * Optimizer steps up to `step` and the time, examples and counts they took, summed over resumes (rates of a resumed
   * or finished run are its own, not its last invocation's). Absent in checkpoints written before it existed.
   */
  throughput?: Throughput;
}

/** What the optimizer steps took (validation excluded), for rates. */
export interface Throughput {
  steps: number;
  seconds: number;
  examples: number;
  counts: Record<string, number>;
}

export interface TrainLoopOptions extends LongWorkOptions {
  /** Shown on the progress bar ("train <name>") and in error messages. */
  name: string;
  /** Examples per epoch; `step` receives indices into them. */
  exampleCount: number;
  /** Examples per optimizer step. */
  batchSize: number;
  epochs: number;
  /** Stop after this many optimizer steps in total (counting those before a resume). */
  maxSteps?: number;
  /** Validate every this many steps; 0 = at the end of every epoch. */
  validateEvery: number;
  /** Stop after this many validations without a strictly better value. */
  patience: number;
  /** Shown on the bar and drawn in the curves. */
  selectMetric: string;
  /** Label of the selection value on the bar (default `val <selectMetric>`). */
  selectLabel?: string;
  /** Seed of the per-epoch example order. */
  shuffleSeed: number;
  schedule: LrSchedule;
  optimizer: AdamW;
  store: ParamStore;
  /** Random streams the checkpoint restores exactly (dropout...). */
  rngs: Record<string, Rng>;
  /** Which parameters checkpoints hold (default "all"; "trainable" for adapters over a frozen base). */
  checkpointParams?: "all" | "trainable";
  /** One optimizer step over these example indices (positions in the epoch's permutation already applied). */
  step: (indices: Int32Array, step: number) => StepResult;
  validate: () => Promise<ValidationResult>;
  /** Run dir for checkpoints, the best parameters and training.svg; none: nothing is written. */
  runDir?: string;
  /** Continue from runDir's checkpoint (the caller checked it belongs to this run). */
  resume?: boolean;
  /** Title of training.svg, e.g. "lrurec on ml-1m". */
  curvesTitle?: string;
  /** Metrics drawn in training.svg's lower panel (default: chosen from selectMetric). */
  curveMetrics?: readonly string[];
  /** Called after every validation (after the checkpoint is written): extra artefacts of the caller. */
  afterValidation?: (state: Readonly<LoopState>, improved: boolean) => void | Promise<void>;
}

export interface LoopResult {
  state: LoopState;
  best: { step: number; value: number; metrics: LoopMetrics };
  stoppedBy: StopReason;
  /** Training wall time in seconds, summed over resumes (validation included). */
  seconds: number;
  /** Examples per second over the optimizer steps of the whole run (resumes included); undefined before any step. */
  examplesPerSecond: number | undefined;
  /** The counts of StepResult per second over the whole run's steps (e.g. tokens/s); empty before any step. */
  ratesPerSecond: Record<string, number>;
  resumedFromStep: number | undefined;
}

const STATE_FORMAT = "reclm-train-state@1";

/** Mixes a seed with a counter into an independent stream (epoch permutations, per-step masks). */
export function derivedRng(seed: number, counter: number): Rng {
  return new Rng((seed ^ Math.imul(counter + 1, 0x9e3779b9)) >>> 0);
}

/** The example order of one epoch. */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  derivedRng(seed, epoch).shuffle(p);
  return p;
}

function freshState(): LoopState {
  return { step: 0, epoch: 0, pos: 0, optStep: 0, best: null, bestFile: null, sinceBest: 0, validations: [], stopped: null, seconds: 0, lossSum: 0, lossCount: 0 };
}

function checkState(raw: unknown, file: string): LoopState {
  const s = raw as LoopState | undefined;
  if (!s || !Number.isInteger(s.step) || !Number.isInteger(s.epoch) || !Number.isInteger(s.pos) || !Array.isArray(s.validations)) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "checkpoint has no valid training state", { file, field: "state" });
  }
  return s;
}

/** The trainable parameters' values (what keep-best saves and restores). */
function readTrainable(store: ParamStore): Map<string, Float32Array> {
  return new Map(store.list().filter((p) => p.trainable).map((p) => [p.name, store.read(p)]));
}

function writeTrainable(store: ParamStore, values: ReadonlyMap<string, Float32Array>): void {
  for (const [name, v] of values) store.write(name, v);
}

/**
 * Runs the loop to its end (epochs, maxSteps or patience) and leaves the BEST parameters in the store.
 * With `runDir`, the run dir must exist; a fresh run's dir must hold no earlier run (see run-dir.ts clearRunDir).
 */
export async function runTrainLoop(o: TrainLoopOptions): Promise<LoopResult> {
  if (o.exampleCount <= 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", `${o.name}: no training examples`, { field: "train" });
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `batch size must be a positive integer, got ${o.batchSize}`, { field: "batchSize" });
  if (o.maxSteps !== undefined && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 0)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxSteps must be a non-negative integer, got ${o.maxSteps}`, { field: "maxSteps" });
  }
  const { optimizer, store } = o;
  const ckptPath = o.runDir ? join(o.runDir, CHECKPOINT_FILE) : undefined;
  const ckptState = { store, optimizer, rngs: o.rngs, params: o.checkpointParams };
  let state = freshState();
  let bestParams: Map<string, Float32Array> | undefined;
  if (o.resume) {
    if (!ckptPath) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "resume needs a run dir (the run to continue)", { field: "resume" });
    if (!existsSync(ckptPath)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "nothing to resume: no checkpoint in the run dir", { file: ckptPath });
    removeStaleTempFiles(o.runDir!);
    const meta = loadCheckpoint(ckptPath, ckptState);
    state = checkState(meta.state, ckptPath);
    if (state.bestFile) {
      const current = readTrainable(store);
      loadCheckpoint(join(o.runDir!, state.bestFile), { store, params: "trainable" });
      bestParams = readTrainable(store);
      writeTrainable(store, current);
    }
  } else if (o.runDir) {
    mkdirSync(o.runDir, { recursive: true });
  }
  const resumedFromStep = o.resume ? state.step : undefined;
  let started = performance.now();
  let secondsBefore = state.seconds;
  const elapsed = () => secondsBefore + (performance.now() - started) / 1000;
  const tp: Throughput = state.throughput ? { ...state.throughput, counts: { ...state.throughput.counts } } : { steps: 0, seconds: 0, examples: 0, counts: {} };
  state.throughput = tp;
  const perSecond = (v: number) => v / Math.max(1e-9, tp.seconds);

  const validate = async () => {
    const res = await o.validate();
    const rec: ValidationRecord = {
      step: state.step,
      epoch: state.epoch,
      loss: state.lossCount ? state.lossSum / state.lossCount : null,
      metrics: res.metrics,
      ...(res.selectValue !== undefined ? { selectValue: res.selectValue } : {}),
      seconds: elapsed(),
    };
    state.validations.push(rec);
    state.lossSum = 0;
    state.lossCount = 0;
    let improved = false;
    if (!state.best || res.value > state.best.value) {
      state.best = { step: state.step, value: res.value, metrics: res.metrics };
      state.sinceBest = 0;
      bestParams = readTrainable(store);
      improved = true;
    } else {
      state.sinceBest++;
      if (state.sinceBest >= o.patience) state.stopped = "patience";
    }
    if (o.runDir && ckptPath) {
      // Best parameters go to their own file, named by step and written first: the training checkpoint names the
      // best file it belongs to, so a crash between the two writes leaves a consistent pair on disk.
      if (improved) {
        state.bestFile = `best-step${state.step}.safetensors`;
        saveCheckpoint(join(o.runDir, state.bestFile), { store, params: "trainable" }, { step: state.step });
      }
      state.optStep = optimizer.step;
      state.seconds = elapsed();
      saveCheckpoint(ckptPath, ckptState, { format: STATE_FORMAT, state });
      started = performance.now();
      secondsBefore = state.seconds;
      removeStaleBest(o.runDir, state.bestFile);
      await writeTrainingCurves(o.runDir, { title: o.curvesTitle ?? o.name, selectMetric: o.selectMetric, validations: state.validations, bestStep: state.best?.step, metrics: o.curveMetrics });
    }
    await o.afterValidation?.(state, improved);
  };

  if (state.validations.length === 0) await validate();

  const stepsPerEpoch = Math.ceil(o.exampleCount / o.batchSize);
  let perm = permutation(o.exampleCount, o.shuffleSeed, state.epoch);
  const maxSteps = o.maxSteps ?? Infinity;
  let stoppedBy: StopReason | null = state.stopped;
  let lastReport = performance.now();
  let windowLoss = 0;
  let windowSteps = 0;
  const totalSteps = Math.min(maxSteps, o.epochs * stepsPerEpoch);
  let lastVal = state.validations[state.validations.length - 1];
  const selectLabel = o.selectLabel ?? `val ${o.selectMetric}`;

  while (!stoppedBy) {
    // A run that ended on its last epoch is checkpointed at epoch == epochs with pos 0: resuming it must not train on.
    if (state.epoch >= o.epochs) {
      stoppedBy = "epochs";
      break;
    }
    if (state.step >= maxSteps) {
      stoppedBy = "maxSteps";
      break;
    }
    if (state.pos >= o.exampleCount) {
      state.epoch++;
      state.pos = 0;
      if (state.epoch >= o.epochs) {
        stoppedBy = "epochs";
        break;
      }
      perm = permutation(o.exampleCount, o.shuffleSeed, state.epoch);
    }
    o.signal?.throwIfAborted();
    const t0 = performance.now();
    const idx = perm.subarray(state.pos, Math.min(o.exampleCount, state.pos + o.batchSize));
    state.pos += idx.length;
    optimizer.lr = lrAt(o.schedule, optimizer.step);
    const res = o.step(idx, state.step);
    if (!Number.isFinite(res.loss)) {
      throw new ReclmError("RECLM_ERR_ENGINE", `${o.name}: training loss is ${res.loss} at step ${state.step} (lr ${optimizer.lr}); lower lr or check the model`, { field: "loss" });
    }
    state.step++;
    state.optStep = optimizer.step;
    state.lossSum += res.loss;
    state.lossCount++;
    tp.seconds += (performance.now() - t0) / 1000;
    tp.steps++;
    tp.examples += res.examples ?? idx.length;
    for (const [k, v] of Object.entries(res.counts ?? {})) tp.counts[k] = (tp.counts[k] ?? 0) + v;
    windowLoss += res.loss;
    windowSteps++;

    const endOfEpoch = state.pos >= o.exampleCount;
    const due = o.validateEvery > 0 ? state.step % o.validateEvery === 0 : endOfEpoch;
    if (due) {
      await validate();
      lastVal = state.validations[state.validations.length - 1];
      stoppedBy = state.stopped;
    }
    const now = performance.now();
    if (o.onProgress && (due || now - lastReport > 200)) {
      const rates = Object.fromEntries(Object.entries(tp.counts).map(([k, v]) => [`${k}/s`, perSecond(v)]));
      o.onProgress({
        stage: `train ${o.name}`,
        done: state.step,
        total: Number.isFinite(totalSteps) ? totalSteps : state.step,
        unit: "steps",
        info: {
          epoch: state.epoch + 1,
          loss: windowLoss / Math.max(1, windowSteps),
          "steps/s": perSecond(tp.steps),
          ...rates,
          [selectLabel]: lastVal.selectValue ?? lastVal.metrics[o.selectMetric],
          best: state.best!.value,
        },
      });
      lastReport = now;
      windowLoss = 0;
      windowSteps = 0;
    }
  }
  // Model selection must see the final parameters too.
  if (lastVal.step !== state.step) await validate();
  writeTrainable(store, bestParams!);
  return {
    state,
    best: state.best!,
    stoppedBy: stoppedBy!,
    seconds: elapsed(),
    examplesPerSecond: tp.steps > 0 ? perSecond(tp.examples) : undefined,
    ratesPerSecond: tp.steps > 0 ? Object.fromEntries(Object.entries(tp.counts).map(([k, v]) => [k, perSecond(v)])) : {},
    resumedFromStep,
  };
}
