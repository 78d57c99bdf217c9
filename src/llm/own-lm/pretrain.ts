/**
 * reclm's own language model for a dataset: a byte-level BPE vocabulary learned from the dataset's training text, a
 * llama decoder trained from scratch on that text (corpus.ts) with the LLM trainer, and a GGUF file that llama.cpp
 * (node-llama-cpp) loads, tokenizes with exactly as reclm does, scores and generates with.
 *
 * Why its own: no chat LLM can be downloaded here, and the one real model at hand (stories260K, 512 SentencePiece
 * pieces) spells a movie title letter by letter (1,111 tokens for one 20-candidate ranking prompt). A vocabulary learned from the
 * catalog's titles writes most titles in a few tokens, so a 20-title history and 20 candidates fit in a few hundred.
 *
 * Shapes (LM_SIZES): "tiny" (~1M parameters: CI and the embedded dataset) and "small" (~10M: real datasets). Both
 * use head size 32/64 and a SwiGLU width of ~8/3·dim rounded to 32 (the llama recipe); full multi-head attention (no
 * GQA: at these sizes the KV cache is not the constraint). Both learn on blocks of 512 tokens, and the GGUF says so
 * (context_length = the block): rotary positions the model never saw are not positions it can use, so a prompt longer
 * than that is cut on the left to it (a 20-title history and 20 candidates take ~350-500 tokens with these
 * vocabularies). A first tiny model trained on 256-token blocks could not learn to answer after the ~350th token.
 *
 * Run dir: tokenizer.json (the vocabulary), config.json, checkpoint.safetensors / best-step*.safetensors /
 * training.svg (the loop's), model.gguf (the best parameters), report.json, report.md.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunDirOptions } from "../../train/child-job.ts";
import type { LongWorkOptions, SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { sha256File, writeFileAtomic, writeJsonAtomic } from "../../io.ts";
import { Rng } from "../../rng.ts";
import { splitFingerprint } from "../../data/stats.ts";
import { Engine, ParamStore } from "../../engine/index.ts";
import { clearRunDir } from "../../train/run-dir.ts";
import type { ValidationRecord } from "../../train/loop.ts";
import { writeLlamaFamilyGguf } from "../gguf-model.ts";
import { declareLlama, type LlamaConfig } from "../llama.ts";
import { bpeGgufMetadata, ByteLevelBpe, checkBpeVocab, trainByteLevelBpe, type BpeVocab } from "../tokenizer/index.ts";
import { exampleArray, type LmExample } from "../train/batches.ts";
import { checkLlmTrainConfig, heldOutLoss, LLM_TRAIN_DEFAULTS, trainLlm, type LlmTrainConfig } from "../train/trainer.ts";
import { buildLmCorpus, type LmCorpusOptions } from "./corpus.ts";

export type LmSize = "tiny" | "small";

export interface LmShape {
  vocabSize: number;
  dim: number;
  layers: number;
  heads: number;
  ffnDim: number;
  /** Tokens per training block (the context the model learns). */
  blockSize: number;
}

export const LM_SIZES: Readonly<Record<LmSize, LmShape>> = Object.freeze({
  tiny: { vocabSize: 2048, dim: 128, layers: 4, heads: 4, ffnDim: 352, blockSize: 512 },
  small: { vocabSize: 8192, dim: 320, layers: 6, heads: 5, ffnDim: 864, blockSize: 512 },
});

export interface PretrainConfig extends LlmTrainConfig, LmShape {
  size: LmSize;
  historyWindow: number;
  historyStride: number;
  heldOutShare: number;
}

export function pretrainRecipe(size: LmSize): PretrainConfig {
  const shape = LM_SIZES[size];
  if (!shape) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown LM size "${size}" (known: ${Object.keys(LM_SIZES).join(", ")})`, { field: "size" });
  return {
    ...LLM_TRAIN_DEFAULTS,
    ...shape,
    size,
    lr: size === "tiny" ? 2e-3 : 1e-3,
    schedule: "cosine",
    warmupSteps: 50,
    minLr: size === "tiny" ? 2e-4 : 1e-4,
    weightDecay: 0,
    clipNorm: 1,
    beta2: 0.95,
    batchSize: 16,
    microBatch: size === "tiny" ? 16 : 4,
    epochs: size === "tiny" ? 4 : 2,
    validateEvery: size === "tiny" ? 50 : 25,
    patience: 10,
    lengthBucket: 32,
    seed: 42,
    historyWindow: 20,
    historyStride: 20,
    heldOutShare: 0.05,
  };
}

export const LM_FILE = "model.gguf";
export const LM_TOKENIZER = "tokenizer.json";
export const LM_CONFIG = "config.json";
export const LM_REPORT_JSON = "report.json";
export const LM_REPORT_MD = "report.md";
const FORMAT = "reclm-lm@1";

export interface LmRunConfig {
  format: typeof FORMAT;
  dataset: string;
  datasetProtocol: string;
  datasetFingerprint: string;
  config: PretrainConfig;
}

export interface PretrainOptions extends LongWorkOptions, RunDirOptions {
  ds: SequenceDataset;
  size?: LmSize;
}

export interface PretrainReport {
  runDir: string;
  model: { file: string; sha256: string };
  dataset: string;
  datasetProtocol: string;
  config: PretrainConfig;
  parameters: number;
  corpus: { documents: number; heldOutDocuments: number; trainTokens: number; heldOutTokens: number; items: number; histories: number };
  steps: number;
  stoppedBy: string;
  best: { step: number; value: number; metrics: Record<string, number> };
  /** exp(mean held-out loss per token) with the best parameters. */
  heldOutPerplexity: number;
  validations: ValidationRecord[];
  seconds: number;
  /** Over the run's optimizer steps, resumes included; absent when none was timed. */
  tokensPerSecond?: number;
  threads: number;
}

/** The recipe of `size` with the user's fields over it, checked. */
export function resolvePretrainConfig(size: LmSize, overrides: Record<string, unknown> = {}, source = "config"): PretrainConfig {
  const c = pretrainRecipe(size) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (!Object.hasOwn(c, k) && k !== "scheduleSteps") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown LM pretraining field "${k}" (known: ${Object.keys(c).join(", ")})`, { file: source, field: k });
    if (k === "size") throw new ReclmError("RECLM_ERR_BAD_CONFIG", "choose the size with --size, not as a field", { file: source, field: k });
    const want = k === "scheduleSteps" ? "number" : typeof c[k];
    if (typeof v !== want) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${k}" must be a ${want}, got ${JSON.stringify(v)}`, { file: source, field: k });
    c[k] = v;
  }
  const config = c as unknown as PretrainConfig;
  checkLlmTrainConfig(config);
  for (const k of ["vocabSize", "dim", "layers", "heads", "ffnDim", "blockSize", "historyWindow", "historyStride"] as const) {
    if (!(Number.isInteger(config[k]) && config[k] > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${k} must be a positive integer, got ${config[k]}`, { file: source, field: k });
  }
  if (config.dim % config.heads !== 0 || (config.dim / config.heads) % 2 !== 0) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `dim ${config.dim} must split into ${config.heads} heads of an even size`, { file: source, field: "heads" });
  }
  if (config.blockSize < 16) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `blockSize must be at least 16, got ${config.blockSize}`, { file: source, field: "blockSize" });
  if (config.vocabSize < 300) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `vocabSize must leave room for the 256 byte tokens and the control tokens, got ${config.vocabSize}`, { file: source, field: "vocabSize" });
  return config;
}

/** The decoder shape of a pretrained LM once its vocabulary is known. */
export function lmLlamaConfig(c: PretrainConfig, vocabSize: number): LlamaConfig {
  const headDim = c.dim / c.heads;
  return {
    architecture: "llama",
    vocabSize,
    dim: c.dim,
    layers: c.layers,
    heads: c.heads,
    kvHeads: c.heads,
    headDim,
    ffnDim: c.ffnDim,
    rmsEps: 1e-5,
    ropeBase: 10000,
    ropeDims: headDim,
    ropeMode: "normal",
    freqScale: 1,
    ropeFreqs: false,
    biases: [],
    tiedOutput: true,
  };
}

/**
 * Every document as BOS + tokens + EOS, concatenated and cut into blocks of blockSize tokens that overlap by one, so
 * every token but the first is predicted exactly once. The last partial block is kept when it has at least 2 tokens.
 */
export function packDocuments(docs: readonly string[], tok: ByteLevelBpe, blockSize: number): { blocks: LmExample[]; tokens: number } {
  const stream: number[] = [];
  for (const d of docs) {
    stream.push(tok.bosId);
    for (const t of tok.encode(d)) stream.push(t);
    stream.push(tok.eos);
  }
  const blocks: LmExample[] = [];
  for (let s = 0; s + 1 < stream.length; s += blockSize - 1) blocks.push({ tokens: stream.slice(s, Math.min(stream.length, s + blockSize)) });
  return { blocks, tokens: stream.length };
}

/** PyTorch-order random weights for a fresh model: N(0, 0.02), residual outputs scaled by 1/√(2·layers) (GPT-2), norms 1. */
function freshWeights(config: LlamaConfig, seed: number) {
  const rng = new Rng(seed);
  return (name: string, shape: readonly number[]): Float32Array => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith("norm.weight")) return new Float32Array(n).fill(1);
    const std = /attn_output|ffn_down/.test(name) ? 0.02 / Math.sqrt(2 * config.layers) : 0.02;
    return Float32Array.from({ length: n }, () => std * rng.normal());
  };
}

function readVocab(file: string): BpeVocab {
  let v: BpeVocab;
  try {
    v = JSON.parse(readFileSync(file, "utf8")) as BpeVocab;
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tokenizer.json is not valid JSON (${(e as Error).message})`, { file });
  }
  checkBpeVocab(v, file);
  return v;
}

export async function pretrainLm(o: PretrainOptions): Promise<PretrainReport> {
  const outDir = resolve(o.outDir);
  const configFile = join(outDir, LM_CONFIG);
  let config: PretrainConfig;
  if (o.resume) {
    if (!existsSync(configFile)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "nothing to resume: no config.json in the run dir", { file: configFile });
    const saved = JSON.parse(readFileSync(configFile, "utf8")) as LmRunConfig;
    if (saved.format !== FORMAT) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `not a reclm LM run (format ${JSON.stringify(saved.format)})`, { file: configFile, field: "format" });
    if (saved.datasetFingerprint !== splitFingerprint(o.ds)) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the LM was trained on ${saved.dataset} (protocol ${saved.datasetProtocol}), a different split`, { file: configFile, field: "datasetFingerprint" });
    config = saved.config;
  } else {
    config = resolvePretrainConfig(o.size ?? "tiny", o.config, o.configSource);
    clearRunDir(outDir, o.overwrite ?? false, [LM_FILE, LM_TOKENIZER, LM_CONFIG, LM_REPORT_JSON, LM_REPORT_MD]);
  }
  const corpusOptions: LmCorpusOptions = { historyWindow: config.historyWindow, historyStride: config.historyStride, heldOutShare: config.heldOutShare, seed: config.seed };
  const corpus = buildLmCorpus(o.ds, corpusOptions);
  const vocabFile = join(outDir, LM_TOKENIZER);
  let vocab: BpeVocab;
  if (o.resume) vocab = readVocab(vocabFile);
  else {
    vocab = trainByteLevelBpe(corpus.train, { vocabSize: config.vocabSize, onProgress: o.onProgress, signal: o.signal });
    writeJsonAtomic(vocabFile, vocab);
    const run: LmRunConfig = { format: FORMAT, dataset: o.ds.name, datasetProtocol: o.ds.protocol, datasetFingerprint: splitFingerprint(o.ds), config };
    writeJsonAtomic(configFile, run);
  }
  const tok = new ByteLevelBpe(vocab, vocabFile);
  const train = packDocuments(corpus.train, tok, config.blockSize);
  const held = packDocuments(corpus.heldOut, tok, config.blockSize);
  const lmConfig = lmLlamaConfig(config, tok.vocabSize);
  const engine = Engine.create({ threads: o.threads });
  const store = new ParamStore(engine);
  try {
    const model = declareLlama(store, lmConfig, freshWeights(lmConfig, config.seed), { trainBase: true });
    store.initialize(new Rng(config.seed));
    const decoder = { engine, store, model, maxLength: config.blockSize };
    const heldOut = exampleArray(held.blocks);
    const res = await trainLlm({
      decoder,
      examples: exampleArray(train.blocks),
      config,
      name: `reclm-lm-${config.size} on ${o.ds.name}`,
      selectMetric: "neg_loss",
      curveMetrics: ["perplexity"],
      checkpointParams: "all",
      runDir: outDir,
      resume: o.resume,
      maxSteps: o.maxSteps,
      onProgress: o.onProgress,
      signal: o.signal,
      validate: async (graphs) => {
        const loss = heldOutLoss(graphs, heldOut, decoder, { microBatch: config.microBatch, lengthBucket: config.lengthBucket });
        return { metrics: { loss, perplexity: Math.exp(loss), neg_loss: -loss }, value: -loss };
      },
    });
    const tensors = new Map(store.list().map((p) => [p.name, store.read(p)]));
    const file = join(outDir, LM_FILE);
    writeLlamaFamilyGguf(file, lmConfig, tensors, bpeGgufMetadata(vocab), "f32", { name: `reclm-lm-${config.size} (${o.ds.name})`, contextLength: config.blockSize });
    const report: PretrainReport = {
      runDir: outDir,
      model: { file, sha256: sha256File(file) },
      dataset: o.ds.name,
      datasetProtocol: o.ds.protocol,
      config,
      parameters: store.size,
      corpus: {
        documents: corpus.train.length,
        heldOutDocuments: corpus.heldOut.length,
        trainTokens: train.tokens,
        heldOutTokens: held.tokens,
        items: corpus.counts.items,
        histories: corpus.counts.histories,
      },
      steps: res.state.step,
      stoppedBy: res.stoppedBy,
      best: res.best,
      heldOutPerplexity: Math.exp(-res.best.value),
      validations: res.state.validations,
      seconds: res.seconds,
      tokensPerSecond: res.inputTokensPerSecond,
      threads: engine.threads,
    };
    writeJsonAtomic(join(outDir, LM_REPORT_JSON), report);
    writeFileAtomic(join(outDir, LM_REPORT_MD), lmReportMarkdown(report));
    return report;
  } finally {
    store.dispose();
    engine.dispose();
  }
}

function lmReportMarkdown(r: PretrainReport): string {
  const c = r.config;
  return [
    `# reclm-lm-${c.size} on ${r.dataset} (protocol ${r.datasetProtocol})`,
    "",
    `A llama decoder (dim ${c.dim}, ${c.layers} layers, ${c.heads} heads, FFN ${c.ffnDim}, tied embeddings) with a ${c.vocabSize}-token byte-level BPE vocabulary learned from the training split's text: ${r.parameters.toLocaleString("en-US")} parameters.`,
    "",
    `Corpus: ${r.corpus.items} item documents + ${r.corpus.histories} history windows (training split only); ${r.corpus.trainTokens.toLocaleString("en-US")} training tokens, ${r.corpus.heldOutTokens.toLocaleString("en-US")} held-out tokens (${r.corpus.heldOutDocuments} documents).`,
    "",
    `${r.steps} steps of ${c.batchSize} blocks of ${c.blockSize} tokens, stopped by ${r.stoppedBy}; ${r.seconds.toFixed(0)} s on ${r.threads} threads (${r.tokensPerSecond?.toFixed(0) ?? "throughput not timed"} tokens/s).`,
    "",
    `Held-out perplexity (best, step ${r.best.step}): **${r.heldOutPerplexity.toFixed(2)}** (step 0: ${r.validations[0].metrics.perplexity.toFixed(1)}).`,
    "",
    `Model: \`${r.model.file}\` (sha256 ${r.model.sha256}).`,
    "",
  ].join("\n");
}
