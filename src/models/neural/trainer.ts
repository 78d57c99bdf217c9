/**
 * The shared trainer of every engine model (docs/model-recipes.md §0; LlamaRec trainer/base.py + trainer/lru.py):
 * examples per objective, shuffled per epoch with the seeded Rng, AdamW (eps, decoupled decay on the params the model
 * declared with `decay`), constant LR (optional warmup+cosine), global-norm clip, validation at step 0 and every
 * `validateEvery` steps on the val split (full ranking, history masked or not per config), model selection on a
 * strictly better `selectMetric`, patience, best parameters kept; at the end the test split with history masked.
 *
 * Batches: ONE train graph shape [batchSize, windowLen]. The final partial batch of an epoch is PADDED with all-padding
 * rows whose labels are ignored (LlamaRec's DataLoader does not drop it). The loss gathers the rows with a real label
 * first (label 0 ignored, input 0 not), so padding positions are never projected onto all items; the number of gathered
 * rows varies per batch, so it is rounded up to a bucket and one graph is compiled per bucket met (train-step.ts).
 *
 * The loop itself (epochs, validation, early stopping, checkpoints) is src/train/loop.ts, shared with the LLM trainer;
 * the run dir's report is report.ts, the checks before a resume resume.ts.
 *
 * Checkpoints (when `outDir` is set): after every validation, atomically, params + AdamW moments + dropout-Rng state +
 * counters + best params/metric + resolved config + dataset name/protocol. `resume: true` continues from it and gives
 * results identical to an uninterrupted run (the epoch order and cloze masks are derived from (seed, epoch/step), the
 * dropout stream is restored).
 */
import { mkdirSync } from "node:fs";
import type { LongWorkOptions, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { splitFingerprint } from "../../data/stats.ts";
import { dataFilesOf } from "../../data/dataset-files.ts";
import { Rng } from "../../rng.ts";
import { AdamW, Engine, type LrSchedule } from "../../engine/index.ts";
import { derivedRng, runTrainLoop, type ValidationResult } from "../../train/loop.ts";
import { clearRunDir } from "../../train/run-dir.ts";
import { NegativeSampler, type SampledSoftmaxConfig } from "./sampled-softmax.ts";
import { ANN_MIN_ITEMS, buildRunIndex } from "../ann.ts";
import { ROW_BUCKETS, TrainStep } from "./train-step.ts";
import { fullRanking, type RankingReport } from "../../eval/full-ranking.ts";
import { metricsMeanOfBatchMeans, type Metrics } from "../../eval/metrics.ts";
import { parseSelectMetric, resolveConfig, type ScheduleConfig } from "./config.ts";
import type { BaseModelConfig, NeuralModelDefinition } from "./contract.ts";
import { allocBatch, buildExamples, fillTrainBatch, type ExampleSet } from "./examples.ts";
import { CONFIG_FILE, MODEL_FILE, NeuralRecommender } from "./recommender.ts";
import { REPORT_JSON, REPORT_MD, writeRunFiles, type FinishedRun, type TrainReport } from "./report.ts";
import { resumedRun } from "./resume.ts";

export { CHECKPOINT_FILE, TRAINING_SVG } from "../../train/run-dir.ts";

export interface TrainOptions<C extends BaseModelConfig> extends LongWorkOptions {
  /** User overrides on top of defaults and preset (validated: unknown or ill-typed fields throw naming the field). */
  config?: Partial<C> | Record<string, unknown>;
  /** Where `config` came from, for error messages ("config.json", "--set"). */
  configSource?: string;
  /** Preset name; default: the preset named after the dataset, if the model has one; "none" = defaults only. */
  preset?: string;
  /**
   * Run dir: config.json at the start; checkpoint.safetensors and training.svg after each validation;
   * model.safetensors, report.json and report.md at the end.
   */
  outDir?: string;
  /** Continue from outDir/checkpoint.safetensors (must exist). */
  resume?: boolean;
  /**
   * Start over in an outDir that already holds a run, deleting that run's files first. Without it such a dir is
   * refused: a new config.json beside the old model and checkpoint would let `eval` or `--resume` read the old run.
   */
  overwrite?: boolean;
  /** ggml CPU threads (default: cores or $RECLM_THREADS). */
  threads?: number;
  /** Stop after this many optimizer steps in total (counting steps done before a resume). */
  maxSteps?: number;
  /** Evaluate the test split at the end (default true). */
  evalTest?: boolean;
  /** Cut-offs of the reported metrics (selectMetric's k is always added). Default [5, 10, 20]. */
  ks?: number[];
  /** From this catalog size on, the run dir gets an approximate item index (src/models/ann.ts). Default ANN_MIN_ITEMS. */
  annMinItems?: number;
}

export interface TrainResult<C extends BaseModelConfig = BaseModelConfig, P = unknown> extends FinishedRun<C> {
  /** The best validation (by selectMetric). */
  best: { step: number; value: number; metrics: Metrics };
  /** Test split, history masked, with the best parameters (undefined when evalTest is false). */
  test: RankingReport | undefined;
  /** Epochs started (the current one included). */
  epochs: number;
  /** Training wall time in seconds, summed over resumes (validation included, test excluded). */
  seconds: number;
  /** Sequences (examples) per second over the optimizer steps of the whole run (resumes included); undefined when none was timed. */
  examplesPerSecond: number | undefined;
  runDir: string | undefined;
  /** The trained model holding the BEST parameters; the caller disposes it. */
  recommender: NeuralRecommender<C, P>;
  /** What the run dir's report.json holds (undefined without an outDir). */
  report: TrainReport | undefined;
}

export async function trainModel<C extends BaseModelConfig, P>(
  def: NeuralModelDefinition<C, P>,
  ds: SequenceDataset,
  options: TrainOptions<C> = {},
): Promise<TrainResult<C, P>> {
  const resumed = options.resume ? resumedRun(def, ds, options) : undefined;
  const { config, preset } =
    resumed ?? resolveConfig(def, { preset: options.preset, datasetName: ds.name, config: options.config, source: options.configSource });
  const select = parseSelectMetric(config.selectMetric);
  const ks = [...new Set([...(options.ks ?? [5, 10, 20]), select.k])].sort((a, b) => a - b);
  if (options.maxSteps !== undefined && !(Number.isInteger(options.maxSteps) && options.maxSteps >= 0)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxSteps must be a non-negative integer, got ${options.maxSteps}`, { field: "maxSteps" });
  }

  if (!resumed && options.outDir) clearRunDir(options.outDir, options.overwrite ?? false, [CONFIG_FILE, MODEL_FILE, REPORT_JSON, REPORT_MD]);

  const root = new Rng(config.seed);
  const initRng = root.fork();
  const dropoutRng = root.fork();
  const shuffleSeed = root.nextU32();
  const maskSeed = root.nextU32();
  const negativeSeed = root.nextU32();

  const engine = Engine.create({ threads: options.threads });
  let rec: NeuralRecommender<C, P> | undefined;
  const steppers: TrainStep<C, P>[] = [];
  let opt: AdamW | undefined;
  try {
    rec = new NeuralRecommender(def, config, ds.catalog.size, { engine, initRng });
    rec.meta = { preset, dataset: ds.name, datasetProtocol: ds.protocol, datasetFingerprint: splitFingerprint(ds), dataFiles: dataFilesOf(ds) };
    const model = rec;
    opt = new AdamW(model.store, { lr: config.lr, eps: config.eps, weightDecay: config.weightDecay, clipNorm: config.clipNorm > 0 ? config.clipNorm : undefined });
    const optimizer = opt;
    const objective = model.objective;
    const examples: ExampleSet = buildExamples(ds, objective, config.maxLen);
    if (examples.length === 0) throw new ReclmError("RECLM_ERR_BAD_DATASET", `dataset "${ds.name}" gives no training examples for ${def.name}`, { field: "train" });
    const B = config.batchSize;
    const L = model.ctx.windowLen;
    const stepsPerEpoch = Math.ceil(examples.length / B);
    const softmax = config as C & SampledSoftmaxConfig;
    const sampler = softmax.softmax === "sampled" ? NegativeSampler.forDataset(ds, softmax.negativeSampler) : undefined;
    const stepper = new TrainStep(def, model, optimizer, dropoutRng, { rowBuckets: ROW_BUCKETS, sampler });
    steppers.push(stepper);
    // The schedule's length is part of the config, not of --max-steps: a run stopped and resumed with a larger cap
    // must follow the same learning-rate curve as one run straight through.
    const schedule = lrSchedule(config as C & ScheduleConfig, (config as C & ScheduleConfig).scheduleSteps ?? config.epochs * stepsPerEpoch);
    if (!resumed && options.outDir) {
      mkdirSync(options.outDir, { recursive: true });
      model.saveConfig(options.outDir);
    }
    const batch = allocBatch(B, L, objective);
    const loop = await runTrainLoop({
      name: def.name,
      exampleCount: examples.length,
      batchSize: B,
      epochs: config.epochs,
      maxSteps: options.maxSteps,
      validateEvery: config.validateEvery,
      patience: config.patience,
      selectMetric: config.selectMetric,
      selectLabel: `val ${config.selectMetric}${config.selectAverage === "batches" ? " (batch means)" : ""}`,
      shuffleSeed,
      schedule,
      optimizer,
      store: model.store,
      rngs: { dropout: dropoutRng },
      runDir: options.outDir,
      resume: !!resumed,
      curvesTitle: `${def.name} on ${ds.name}`,
      onProgress: options.onProgress,
      signal: options.signal,
      step: (idx, step) => {
        fillTrainBatch(batch, ds, examples, idx, objective, config.maxLen, L, derivedRng(maskSeed, step));
        return { loss: stepper.run(batch, sampler ? derivedRng(negativeSeed, step) : undefined) };
      },
      validate: () => validation(model, ds, config, ks, options.signal),
    });

    let test: RankingReport | undefined;
    if (options.evalTest ?? true) {
      test = await fullRanking(model, ds, {
        split: "test",
        ks,
        batchSize: config.evalBatchSize,
        maskHistory: true,
        signal: options.signal,
        onProgress: options.onProgress,
      });
    }
    const result: TrainResult<C, P> = {
      model: def.name,
      dataset: ds.name,
      datasetProtocol: ds.protocol,
      preset,
      config,
      best: loop.best,
      validations: loop.state.validations,
      test,
      steps: loop.state.step,
      epochs: loop.state.epoch + (loop.state.pos > 0 ? 1 : 0),
      stoppedBy: loop.stoppedBy,
      seconds: loop.seconds,
      examplesPerSecond: loop.examplesPerSecond,
      runDir: options.outDir,
      resumedFromStep: loop.resumedFromStep,
      recommender: model,
      report: undefined,
    };
    if (options.outDir) {
      result.report = writeRunFiles(options.outDir, result);
      // Catalogs big enough to retrieve through an approximate index get theirs now, next to the model it indexes.
      if (model.nItems >= (options.annMinItems ?? ANN_MIN_ITEMS)) buildRunIndex(model, options.outDir, {}, engine.threads);
    }
    return result;
  } catch (e) {
    rec?.dispose();
    throw e;
  } finally {
    for (const st of steppers) st.dispose();
    opt?.dispose();
    // The engine lives on inside the returned recommender; it is freed by recommender.dispose().
    if (!rec) engine.dispose();
  }
}

/** Full ranking on the validation split, and the value model selection compares (a per-user or a batch mean). */
async function validation<C extends BaseModelConfig, P>(model: NeuralRecommender<C, P>, ds: SequenceDataset, config: C, ks: number[], signal?: AbortSignal): Promise<ValidationResult> {
  const rep = await fullRanking(model, ds, { split: "val", ks, batchSize: config.evalBatchSize, maskHistory: config.maskHistoryInValidation, signal });
  if (config.selectAverage !== "batches") return { metrics: rep.metrics, value: rep.metrics[config.selectMetric] };
  const value = metricsMeanOfBatchMeans(rep.ranks, ks, config.evalBatchSize)[config.selectMetric];
  return { metrics: rep.metrics, value, selectValue: value };
}

function lrSchedule(config: BaseModelConfig & ScheduleConfig, totalSteps: number): LrSchedule {
  if (config.lrSchedule === "cosine") {
    if (!Number.isFinite(totalSteps)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "a cosine schedule needs a finite number of steps", { field: "lrSchedule" });
    return { kind: "cosine", lr: config.lr, warmup: config.warmupSteps ?? 0, totalSteps };
  }
  return { kind: "constant", lr: config.lr };
}
