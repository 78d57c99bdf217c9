/**
 * A LlamaRec ranker's run dir: what `reclm finetune llamarec` writes and `reclm eval --method llamarec`,
 * `reclm recommend` and the service read.
 *
 *   config.json       the base LLM (path + sha256), the LoRA shape, the prompt, the retriever run dir, the dataset
 *                     (name, protocol, split fingerprint) and the fine-tuning config
 *   adapter.gguf      the best LoRA adapter in llama.cpp's format (node-llama-cpp applies it; reclm reads it back)
 *   checkpoint.safetensors, best-step*.safetensors, training.svg   the training loop's (src/train)
 *   report.json, report.md                                         the run's validations and best step
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import type { RunDirOptions } from "../../train/child-job.ts";
import type { LongWorkOptions, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { sha256File, writeFileAtomic, writeJsonAtomic } from "../../io.ts";
import { splitFingerprint } from "../../data/stats.ts";
import { dataFilesOf, type DatasetFiles } from "../../data/dataset-files.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { llamaCppTokenizer } from "../../llm/prompt.ts";
import { loadLlamaCppModel } from "../../llm/runtime.ts";
import { writeLoraGguf } from "../../llm/lora-gguf.ts";
import { openDecoder } from "../../llm/train/decoder.ts";
import { checkLlmTrainConfig, trainLlm } from "../../llm/train/trainer.ts";
import type { ValidationRecord } from "../../train/loop.ts";
import type { Metrics } from "../../eval/metrics.ts";
import { clearRunDir } from "../../train/run-dir.ts";
import { resolveModel } from "../../models/resolve.ts";
import { llamarecRecipeFor, llamarecRetrievedTrainingSet, llamarecTrainingSet, rankingSubset, scoreSubsetByRetriever, scoreSubsetOnDecoder, type LlamaRecFinetuneConfig, type LlamaRecTrainingSet } from "./finetune.ts";
import { LlamaRecPrompter } from "./prompter.ts";
import { chatRenderer, type RankerSpec } from "./verbalizer.ts";
import { LLAMAREC_PROMPT, type LlamaRecPromptOptions } from "./prompt.ts";
import { TRAIN_CANDIDATES } from "./retrieved-examples.ts";

export const RANKER_CONFIG = "config.json";
export const ADAPTER_FILE = "adapter.gguf";
export const RANKER_REPORT_JSON = "report.json";
export const RANKER_REPORT_MD = "report.md";
const FORMAT = "reclm-llamarec-ranker@1";

export interface LlamaRecRunConfig {
  format: typeof FORMAT;
  method: "llamarec";
  llm: { file: string; sha256: string; architecture: string };
  /** The adapter file in the run dir. */
  adapter: string;
  lora: { rank: number; alpha: number; dropout: number; targets: string[] };
  prompt: LlamaRecPromptOptions;
  /** "alpaca" (the paper's prompt) or "chat" (the base model's chat template). Older run dirs: alpaca. */
  layout?: "alpaca" | "chat";
  maxHistory: number;
  /** The retriever's run dir (or baseline name) the ranker re-orders. */
  retriever: string;
  dataset: string;
  datasetProtocol: string;
  datasetFingerprint: string;
  /** Dataset "custom": the user's files it was loaded from (absolute), so `--ranker <dir>` alone can reload them. */
  dataFiles?: DatasetFiles;
  config: LlamaRecFinetuneConfig;
  /**
   * With trainCandidates other than "uniform": `scanned` training prefixes were retrieved to find the `used` examples;
   * `hits` of them had the answer in the top-20, `answerFirst` as the retriever's first candidate.
   */
  examples: { used: number; total: number; scanned?: number; hits?: number; answerFirst?: number };
}

/** `config`: fields over the recipe (llamarecRecipeFor(dataset)). */
export interface FinetuneLlamaRecOptions extends LongWorkOptions, RunDirOptions {
  ds: SequenceDataset;
  /** The retriever's run dir (or a baseline's name): its top-20 are the validation candidates. */
  retriever: string;
  /** The base LLM (GGUF). */
  llm: string;
  /** "alpaca" (default, the paper) or "chat" (the model's own chat template, for instruct models). */
  layout?: "alpaca" | "chat";
}

export interface LlamaRecFinetuneReport {
  runDir: string;
  llm: LlamaRecRunConfig["llm"];
  config: LlamaRecFinetuneConfig;
  examples: LlamaRecRunConfig["examples"];
  valUsers: number;
  /** The retriever's own order on the same validation users (absent in older run dirs). */
  retrieverValidation?: Metrics;
  steps: number;
  stoppedBy: string;
  best: { step: number; value: number; metrics: Record<string, number> };
  validations: ValidationRecord[];
  seconds: number;
  /** Over the run's optimizer steps, resumes included; absent when none was timed. */
  tokensPerSecond?: number;
  inputTokensPerSecond?: number;
  threads: number;
}

const OWN_FILES = [RANKER_CONFIG, ADAPTER_FILE, RANKER_REPORT_JSON, RANKER_REPORT_MD];

/** The recipe with the user's fields over it, each checked against the recipe's own type. */
export function resolveFinetuneConfig(dataset: string, overrides: Record<string, unknown> = {}, source = "config"): LlamaRecFinetuneConfig {
  const config = llamarecRecipeFor(dataset) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (!Object.hasOwn(config, k) && k !== "scheduleSteps") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown LlamaRec fine-tuning field "${k}" (known: ${Object.keys(config).join(", ")})`, { file: source, field: k });
    const want = k === "scheduleSteps" ? "number" : Array.isArray(config[k]) ? "array" : typeof config[k];
    const got = Array.isArray(v) ? "array" : typeof v;
    if (want !== got) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${k}" must be a ${want}, got ${JSON.stringify(v)}`, { file: source, field: k });
    config[k] = v;
  }
  const c = config as unknown as LlamaRecFinetuneConfig;
  try {
    checkLlmTrainConfig(c);
  } catch (e) {
    if (e instanceof ReclmError) throw new ReclmError(e.code, e.message.replace(/^.*?: /, ""), { file: source, field: e.location.field });
    throw e;
  }
  if (!(Number.isInteger(c.loraRank) && c.loraRank > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `loraRank must be a positive integer, got ${c.loraRank}`, { file: source, field: "loraRank" });
  if (!(c.loraDropout >= 0 && c.loraDropout < 1)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `loraDropout must be in [0, 1), got ${c.loraDropout}`, { file: source, field: "loraDropout" });
  for (const k of ["maxExamples", "maxValUsers"] as const) if (!(Number.isInteger(c[k]) && c[k] >= 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${k} must be a non-negative integer, got ${c[k]}`, { file: source, field: k });
  if (!TRAIN_CANDIDATES.includes(c.trainCandidates ?? "uniform")) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `trainCandidates must be one of ${TRAIN_CANDIDATES.join(", ")}, got ${JSON.stringify(c.trainCandidates)}`, { file: source, field: "trainCandidates" });
  }
  if (!c.ks.includes(Number(/@(\d+)$/.exec(c.selectMetric)?.[1]))) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `selectMetric ${c.selectMetric} needs its k among ks [${c.ks}]`, { file: source, field: "selectMetric" });
  return c;
}

export function readLlamaRecRun(dir: string): LlamaRecRunConfig {
  const file = join(dir, RANKER_CONFIG);
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "not a LlamaRec ranker run dir (no config.json): make one with `reclm finetune llamarec`", { file });
  let raw: LlamaRecRunConfig;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as LlamaRecRunConfig;
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `config.json is not valid JSON (${(e as Error).message})`, { file });
  }
  if (raw?.format !== FORMAT) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `not a LlamaRec ranker config (format ${JSON.stringify(raw?.format)}, expected ${FORMAT})`, { file, field: "format" });
  for (const k of ["llm", "adapter", "lora", "prompt", "retriever", "dataset", "datasetFingerprint"] as const) {
    if (raw[k] === undefined) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `config.json lacks "${k}"`, { file, field: k });
  }
  return raw;
}

/** Checks that the base model file is the one the ranker was trained on (its sha256). */
export function checkBaseModel(run: LlamaRecRunConfig, dir: string): string {
  const file = run.llm.file;
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", `the ranker's base LLM is missing (config.json names it)`, { file, field: "llm.file" });
  const sha = sha256File(file);
  if (sha !== run.llm.sha256) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the base LLM changed since fine-tuning (sha256 ${sha.slice(0, 12)}..., config.json has ${run.llm.sha256.slice(0, 12)}...)`, { file: join(dir, RANKER_CONFIG), field: "llm.sha256" });
  }
  return file;
}

/** Fine-tunes LlamaRec's ranker into `outDir` (see finetune.ts for the recipe); resumable. */
export async function finetuneLlamaRec(o: FinetuneLlamaRecOptions): Promise<LlamaRecFinetuneReport> {
  const outDir = resolve(o.outDir);
  const llm = resolve(o.llm);
  let config: LlamaRecFinetuneConfig;
  if (o.resume) {
    const saved = readLlamaRecRun(outDir);
    if (saved.dataset !== o.ds.name || saved.datasetProtocol !== o.ds.protocol || saved.datasetFingerprint !== splitFingerprint(o.ds)) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the run was fine-tuned on ${saved.dataset} (protocol ${saved.datasetProtocol}), a different split than this ${o.ds.name}`, { file: join(outDir, RANKER_CONFIG), field: "datasetFingerprint" });
    }
    if (saved.llm.file !== llm) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the run fine-tunes ${saved.llm.file}, not ${llm}`, { file: join(outDir, RANKER_CONFIG), field: "llm" });
    checkBaseModel(saved, outDir);
    config = saved.config;
    for (const [k, v] of Object.entries(o.config ?? {})) {
      if (JSON.stringify((config as unknown as Record<string, unknown>)[k]) !== JSON.stringify(v)) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot change "${k}" on resume`, { file: join(outDir, RANKER_CONFIG), field: k });
      }
    }
  } else {
    config = resolveFinetuneConfig(o.ds.name, o.config, o.configSource);
    clearRunDir(outDir, o.overwrite ?? false, OWN_FILES);
  }
  const decoder = await openDecoder(llm, {
    lora: { rank: config.loraRank, alpha: config.loraAlpha, dropout: config.loraDropout, targets: config.loraTargets },
    threads: o.threads,
    seed: config.seed,
  });
  const vocab = await loadLlamaCppModel(llm, { vocabOnly: true });
  const retriever = await resolveModel(o.retriever, o.ds, { split: "val" });
  try {
    // A prompt longer than the model's context could not be scored: the budget is the smaller of the two, less one
    // for the EOS a training example carries after its budgeted prompt and letter.
    const layout = o.resume ? (readLlamaRecRun(outDir).layout ?? "alpaca") : (o.layout ?? "alpaca");
    const prompter = new LlamaRecPrompter(o.ds.catalog, llamaCppTokenizer(vocab), {
      prompt: { ...LLAMAREC_PROMPT, maxPromptTokens: Math.min(LLAMAREC_PROMPT.maxPromptTokens, decoder.maxLength - 1) },
      chat: layout === "chat" ? chatRenderer(vocab) : undefined,
    });
    const candidates = config.trainCandidates ?? "uniform";
    const train: LlamaRecTrainingSet =
      candidates === "uniform"
        ? llamarecTrainingSet(o.ds, prompter, config)
        : await llamarecRetrievedTrainingSet(o.ds, retriever, prompter, { ...config, trainCandidates: candidates }, { onProgress: o.onProgress, signal: o.signal });
    o.onProgress?.({ stage: "validation candidates", done: 0, total: 1, unit: "retrievals" });
    const subset = await rankingSubset(o.ds, retriever, prompter, "val", { maxUsers: config.maxValUsers, seed: config.seed });
    const run: LlamaRecRunConfig = {
      format: FORMAT,
      method: "llamarec",
      llm: { file: llm, sha256: sha256File(llm), architecture: decoder.architecture },
      adapter: ADAPTER_FILE,
      lora: { rank: config.loraRank, alpha: config.loraAlpha, dropout: config.loraDropout, targets: config.loraTargets },
      prompt: prompter.prompt,
      layout,
      maxHistory: prompter.maxHistory,
      retriever: isAbsolute(o.retriever) || existsSync(o.retriever) ? resolve(o.retriever) : o.retriever,
      dataset: o.ds.name,
      datasetProtocol: o.ds.protocol,
      datasetFingerprint: splitFingerprint(o.ds),
      dataFiles: dataFilesOf(o.ds),
      config,
      examples: { used: train.source.length, total: train.total, ...(train.scanned === undefined ? {} : { scanned: train.scanned, hits: train.hits, answerFirst: train.answerFirst }) },
    };
    if (!o.resume) writeJsonAtomic(join(outDir, RANKER_CONFIG), run);
    const res = await trainLlm({
      decoder,
      examples: train.source,
      config,
      name: `llamarec ranker on ${o.ds.name}`,
      selectMetric: config.selectMetric,
      curveMetrics: [config.selectMetric, "Recall@5", "NDCG@5"],
      checkpointParams: "trainable",
      runDir: outDir,
      resume: o.resume,
      maxSteps: o.maxSteps,
      onProgress: o.onProgress,
      signal: o.signal,
      validate: async (graphs) => {
        const metrics = scoreSubsetOnDecoder(graphs, subset, prompter, config.ks, config.microBatch);
        return { metrics, value: metrics[config.selectMetric] };
      },
    });
    writeLoraGguf(join(outDir, ADAPTER_FILE), decoder.store, decoder.model, `reclm LlamaRec ranker (${o.ds.name})`);
    const report: LlamaRecFinetuneReport = {
      runDir: outDir,
      llm: run.llm,
      config,
      examples: run.examples,
      valUsers: subset.positions.length,
      retrieverValidation: scoreSubsetByRetriever(subset, config.ks),
      steps: res.state.step,
      stoppedBy: res.stoppedBy,
      best: res.best,
      validations: res.state.validations,
      seconds: res.seconds,
      tokensPerSecond: res.tokensPerSecond,
      inputTokensPerSecond: res.inputTokensPerSecond,
      threads: decoder.engine.threads,
    };
    writeJsonAtomic(join(outDir, RANKER_REPORT_JSON), report);
    writeFileAtomic(join(outDir, RANKER_REPORT_MD), reportMarkdown(report, o.ds));
    return report;
  } finally {
    await retriever.dispose?.();
    await vocab.dispose();
    decoder.dispose();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function reportMarkdown(r: LlamaRecFinetuneReport, ds: SequenceDataset): string {
  const first = r.validations[0];
  const rows = [
    ...(r.retrieverValidation ? [{ method: "the retriever's own order", metrics: r.retrieverValidation }] : []),
    { method: `zero-shot (step 0, ${r.valUsers} validation-subset users)`, metrics: first.metrics },
    { method: `fine-tuned (best, step ${r.best.step})`, metrics: r.best.metrics },
  ];
  return [
    `# LlamaRec ranker on ${ds.name} (protocol ${ds.protocol})`,
    "",
    `Base LLM: \`${r.llm.file}\` (sha256 ${r.llm.sha256}); LoRA r ${r.config.loraRank}, alpha ${r.config.loraAlpha}, dropout ${r.config.loraDropout} on ${r.config.loraTargets.join(", ")}.`,
    "",
    `${r.examples.used} of ${r.examples.total} training examples (candidates: ${r.config.trainCandidates ?? "uniform"}` +
      `${r.examples.scanned === undefined ? "" : `, found among ${r.examples.scanned} prefixes retrieved: the answer in the top-20 for ${pct((r.examples.hits ?? 0) / r.examples.scanned)}, first for ${pct((r.examples.answerFirst ?? 0) / (r.examples.hits ?? 1))} of those`}); ` +
      `${r.steps} steps of ${r.config.batchSize} (micro-batch ${r.config.microBatch}); stopped by ${r.stoppedBy}; ` +
      `${r.seconds.toFixed(0)} s on ${r.threads} threads; ${r.inputTokensPerSecond?.toFixed(0) ?? "(not timed)"} prompt tokens/s.`,
    "",
    "Validation subset (the retriever's top-20 re-ordered by the verbalizer on reclm's decoder):",
    "",
    "```",
    formatMetricsTable(rows),
    "```",
    "",
  ].join("\n");
}

/** What a ranker run dir evaluates as: its base LLM zero-shot (optional) and with its fine-tuned adapter. */
export function rankerSpecsOf(dir: string, options: { zeroShot?: boolean } = {}): { run: LlamaRecRunConfig; specs: RankerSpec[] } {
  const run = readLlamaRecRun(dir);
  const llm = checkBaseModel(run, dir);
  const adapter = join(dir, run.adapter);
  if (!existsSync(adapter)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "the run has no adapter yet: finish it (`reclm finetune llamarec --resume --out <dir>`)", { file: adapter });
  const layout = run.layout ?? "alpaca";
  // Zero-shot scores the prompts the adapter was fine-tuned on too: the two rows differ by the adapter alone.
  const asTrained = { prompt: run.prompt, maxHistory: run.maxHistory, layout };
  const specs: RankerSpec[] = [...(options.zeroShot ?? true ? [{ name: "llamarec-zero-shot", llm, ...asTrained }] : []), { name: "llamarec", llm, adapter, ...asTrained }];
  return { run, specs };
}

/** Refuses a ranker run dir made on another dataset split than the one it is asked to score. */
export function checkRunDataset(run: LlamaRecRunConfig, dir: string, ds: SequenceDataset): void {
  if (run.dataset !== ds.name || run.datasetProtocol !== ds.protocol || run.datasetFingerprint !== splitFingerprint(ds)) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the ranker was fine-tuned on ${run.dataset} (protocol ${run.datasetProtocol}); it cannot score this ${ds.name} (protocol ${ds.protocol})`, {
      file: join(dir, RANKER_CONFIG),
      field: "datasetFingerprint",
    });
  }
}
