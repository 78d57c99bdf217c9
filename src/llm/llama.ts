/**
 * reclm's own llama-architecture decoder on the training engine: the forward llama.cpp runs (RMSNorm, rotary
 * position embedding, grouped-query causal attention, SwiGLU MLP, final RMSNorm, output head), built with engine ops
 * that all have a backward, plus LoRA adapters (W + (alpha/r)·B·A, B = 0 at init, as PEFT) on any projection.
 * The base weights come from a GGUF file of a llama-family architecture (llama incl. Llama 3.x and SmolLM, qwen2
 * incl. Qwen2.5, qwen3), kept in their
 * stored type where ggml multiplies them as stored (F16, Q8_0, the K-quants...) or dequantized to F32, and stay
 * frozen unless asked; the LoRA factors are the trainable parameters. This is the decoder forward the LLM methods
 * (src/methods) share: one forward, one LoRA, one trainer.
 * Parity with llama.cpp on real weights: test/llm/llama.test.ts; per architecture: test/llm/llama-family.test.ts.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { dequantize, ggmlTypeBytes, ggmlTypeName, PACKED_TYPE_ID, packedTypeOf, type Builder, type Init, type Param, type ParamStore, type Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import type { GgufHeader, GgufTensor } from "./runtime.ts";

/**
 * The GGUF architectures reclm's decoder runs: the same block, told apart by rope layout, biases and qwen3's
 * per-head RMSNorm of the queries and keys.
 */
export type LlamaArchitecture = "llama" | "qwen2" | "qwen3";

/** A block's linear projections (LoRA targets, bias holders). */
export type LlamaProjection = "q" | "k" | "v" | "o" | "gate" | "up" | "down";
export type LoraTarget = LlamaProjection;

export interface LlamaConfig {
  architecture: LlamaArchitecture;
  vocabSize: number;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Size of every q, k and v head: `{arch}.attention.key_length` when the file has it, else dim / heads. */
  headDim: number;
  ffnDim: number;
  rmsEps: number;
  ropeBase: number;
  /** Rotated dims per head (llama.cpp requires all of them for llama, qwen2 and qwen3). */
  ropeDims: number;
  /**
   * "normal" rotates adjacent pairs (llama: llama.cpp's converter permutes the q/k rows of HF checkpoints into this
   * order), "neox" rotates the two halves of a head (qwen2, whose rows are left in HF order).
   */
  ropeMode: "normal" | "neox";
  /** Every rope angle times this: 1 / `{arch}.rope.scaling.factor` under "linear" scaling, else 1. */
  freqScale: number;
  /** The file has `rope_freqs.weight` (Llama 3.x): ropeDims/2 divisors of the rope frequencies, shared by all layers. */
  ropeFreqs: boolean;
  /** Projections that add a bias vector `blk.<i>.<tensor>.bias` (qwen2: q, k, v; llama: any, usually none). */
  biases: readonly LlamaProjection[];
  /** No output.weight in the file: the head reuses token_embd (tied). */
  tiedOutput: boolean;
  /**
   * Each query and key head is RMS-normalized (weights attn_q_norm / attn_k_norm [headDim], shared by the heads)
   * before rope: qwen3. Implied by the architecture; absent means false.
   */
  qkNorm?: boolean;
}

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Projections that get an adapter (e.g. q, v; or all seven). */
  targets: readonly LoraTarget[];
  /** Dropout on the adapter's input in training graphs (e.g. 0.05 or 0.1). Default 0. */
  dropout?: number;
  /** Blocks that get adapters (PEFT's layers_to_transform). Default: all. */
  layers?: readonly number[];
}

type LayerMatrices = Record<LlamaProjection, Param>;

interface LayerParams extends LayerMatrices {
  attnNorm: Param;
  ffnNorm: Param;
  /** qwen3's per-head query and key norms (`config.qkNorm`). */
  qNorm?: Param;
  kNorm?: Param;
  /** The biases `config.biases` names. */
  bias: Partial<Record<LlamaProjection, Param>>;
}

export interface LlamaParams {
  tokenEmbedding: Param;
  outputNorm: Param;
  output: Param;
  /** rope_freqs.weight when the config has it; always frozen (ggml has no gradient for rope frequency factors). */
  ropeFreqs?: Param;
  layers: LayerParams[];
  /** "blk.<i>.<target>" -> LoRA factors A [r, in], B [out, r], and the frozen matrix they adapt. */
  lora: Map<string, { a: Param; b: Param; base: Param }>;
}

export interface LlamaModel {
  config: LlamaConfig;
  params: LlamaParams;
  lora?: LoraOptions;
}

const GGML_F32 = 0;

export const LLAMA_PROJECTIONS: readonly LlamaProjection[] = ["q", "k", "v", "o", "gate", "up", "down"];

/** A projection's GGUF tensor stem: blk.<i>.<stem>.weight / .bias. */
export const PROJECTION_TENSOR: Record<LlamaProjection, string> = { q: "attn_q", k: "attn_k", v: "attn_v", o: "attn_output", gate: "ffn_gate", up: "ffn_up", down: "ffn_down" };

/**
 * What each architecture's llama.cpp loader builds (llama-model.cpp load_tensors and llama_model_rope_type): its rope
 * layout, the biases it requires and the ones it takes if present, and whether it reads rope_freqs.weight.
 */
const ARCHITECTURES: Record<LlamaArchitecture, { ropeMode: "normal" | "neox"; requiredBiases: readonly LlamaProjection[]; optionalBiases: readonly LlamaProjection[]; ropeFreqs: boolean; qkNorm: boolean; headsSpanDim: boolean }> = {
  llama: { ropeMode: "normal", requiredBiases: [], optionalBiases: LLAMA_PROJECTIONS, ropeFreqs: true, qkNorm: false, headsSpanDim: false },
  // qwen2's loader builds attn_q as [dim, dim]: its heads must span the model dimension exactly.
  qwen2: { ropeMode: "neox", requiredBiases: ["q", "k", "v"], optionalBiases: [], ropeFreqs: false, qkNorm: false, headsSpanDim: true },
  qwen3: { ropeMode: "neox", requiredBiases: [], optionalBiases: [], ropeFreqs: false, qkNorm: true, headsSpanDim: false },
};

export function isLlamaArchitecture(a: string): a is LlamaArchitecture {
  return Object.hasOwn(ARCHITECTURES, a);
}

/** [out, in] of a projection. */
function projectionShape(c: LlamaConfig, p: LlamaProjection): [number, number] {
  const q = c.heads * c.headDim, kv = c.kvHeads * c.headDim;
  const shapes: Record<LlamaProjection, [number, number]> = { q: [q, c.dim], k: [kv, c.dim], v: [kv, c.dim], o: [c.dim, q], gate: [c.ffnDim, c.dim], up: [c.ffnDim, c.dim], down: [c.dim, c.ffnDim] };
  return shapes[p];
}

/**
 * Every tensor a model of this shape has, by GGUF name, with its PyTorch-order shape: the set a file must hold
 * exactly (reader) and the set a writer must be given (gguf-model.ts).
 */
export function llamaTensorShapes(c: LlamaConfig): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>([["token_embd.weight", [c.vocabSize, c.dim]]]);
  if (c.ropeFreqs) out.set("rope_freqs.weight", [c.ropeDims / 2]);
  for (let i = 0; i < c.layers; i++) {
    out.set(`blk.${i}.attn_norm.weight`, [c.dim]);
    for (const p of LLAMA_PROJECTIONS) {
      const shape = projectionShape(c, p);
      out.set(`blk.${i}.${PROJECTION_TENSOR[p]}.weight`, shape);
      if (c.biases.includes(p)) out.set(`blk.${i}.${PROJECTION_TENSOR[p]}.bias`, [shape[0]]);
      if (p === "o") {
        if (c.qkNorm) {
          out.set(`blk.${i}.attn_q_norm.weight`, [c.headDim]);
          out.set(`blk.${i}.attn_k_norm.weight`, [c.headDim]);
        }
        out.set(`blk.${i}.ffn_norm.weight`, [c.dim]);
      }
    }
  }
  out.set("output_norm.weight", [c.dim]);
  if (!c.tiedOutput) out.set("output.weight", [c.vocabSize, c.dim]);
  return out;
}

/**
 * Checks that a config describes a block llama.cpp builds for its architecture (rope layout, biases, rope_freqs,
 * head sizes): a hand-made config or a file's metadata that breaks one of these is refused, not run differently.
 */
export function checkLlamaConfig(c: LlamaConfig, file?: string): void {
  const bad = (why: string, field: string) => new ReclmError("RECLM_ERR_BAD_CONFIG", why, { file, field });
  if (!isLlamaArchitecture(c.architecture)) throw bad(`architecture "${c.architecture}" is not one reclm's decoder runs (${Object.keys(ARCHITECTURES).join(", ")})`, "architecture");
  const arch = ARCHITECTURES[c.architecture];
  for (const k of ["vocabSize", "dim", "layers", "heads", "kvHeads", "headDim", "ffnDim", "ropeDims"] as const) {
    if (!(Number.isInteger(c[k]) && c[k] > 0)) throw bad(`${k} must be a positive integer, got ${c[k]}`, k);
  }
  if (c.heads % c.kvHeads !== 0) throw bad(`heads (${c.heads}) must be a multiple of kvHeads (${c.kvHeads})`, "kvHeads");
  if (c.ropeDims !== c.headDim) throw bad(`rope dimension count ${c.ropeDims} differs from the head size ${c.headDim} (llama.cpp refuses it for ${c.architecture})`, "ropeDims");
  if (c.headDim % 2 !== 0) throw bad(`head size ${c.headDim} must be even (rope rotates pairs)`, "headDim");
  if (arch.headsSpanDim && c.heads * c.headDim !== c.dim) throw bad(`${c.architecture} needs heads × head size = dim (llama.cpp builds its attn_q as [dim, dim]); ${c.heads} × ${c.headDim} != ${c.dim}`, "headDim");
  if (c.ropeMode !== arch.ropeMode) throw bad(`${c.architecture} uses ${arch.ropeMode} rope, the config says ${c.ropeMode}`, "ropeMode");
  if (!(Number.isFinite(c.freqScale) && c.freqScale > 0)) throw bad(`freqScale must be a positive number, got ${c.freqScale}`, "freqScale");
  if (!(c.rmsEps > 0) || !(c.ropeBase > 0)) throw bad("rmsEps and ropeBase must be positive", c.rmsEps > 0 ? "ropeBase" : "rmsEps");
  if (c.ropeFreqs && !arch.ropeFreqs) throw bad(`${c.architecture} has no rope_freqs (llama.cpp does not read them for it)`, "ropeFreqs");
  for (const p of c.biases) {
    if (!LLAMA_PROJECTIONS.includes(p)) throw bad(`unknown projection "${p}" in biases`, "biases");
    if (!arch.requiredBiases.includes(p) && !arch.optionalBiases.includes(p)) throw bad(`${c.architecture} has no ${PROJECTION_TENSOR[p]} bias`, "biases");
  }
  for (const p of arch.requiredBiases) if (!c.biases.includes(p)) throw bad(`${c.architecture} requires the ${PROJECTION_TENSOR[p]} bias`, "biases");
  if ((c.qkNorm ?? false) !== arch.qkNorm) throw bad(`${c.architecture} ${arch.qkNorm ? "normalizes" : "does not normalize"} query and key heads (qkNorm ${arch.qkNorm}), the config says qkNorm ${c.qkNorm ?? false}`, "qkNorm");
}

/** The block's metadata key prefix, "<arch>." (llama.cpp reads every hyperparameter under the file's own architecture). */
function metadataReader(h: GgufHeader, file: string, arch: string) {
  const fail = (why: string, key: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", why, { file, field: key });
  return (name: string, fallback?: number): number => {
    const key = `${arch}.${name}`;
    const v = h.metadata[key];
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw fail(`GGUF metadata lacks "${key}"`, key);
    }
    if (typeof v === "number" && Number.isFinite(v)) return v;
    // llama.cpp also reads per-layer arrays for head counts and FFN sizes (OpenELM); one block shape is all reclm runs.
    throw fail(`GGUF metadata "${key}" is ${Array.isArray(v) ? "a per-layer array" : JSON.stringify(v)}; reclm's decoder needs one number`, key);
  };
}

/**
 * The decoder's shape from a GGUF file's metadata (`{arch}.*` keys, for the architectures in `LlamaArchitecture`)
 * and tensor table. Refused, naming the key or tensor: another architecture, a rope scaling other than none/linear,
 * experts, a custom attention scale, k/v heads of different sizes, and any tensor the decoder would not use (a
 * norm, bias or rope table it has no place for): running on without it would be a different model.
 */
export function llamaConfigFromGguf(h: GgufHeader, file: string): LlamaConfig {
  const fail = (why: string, field: string) => new ReclmError("RECLM_ERR_BAD_CHECKPOINT", why, { file, field });
  const architecture = h.architecture;
  if (!isLlamaArchitecture(architecture)) {
    throw fail(`architecture "${architecture}" is not supported by reclm's trainable decoder (${Object.keys(ARCHITECTURES).join(", ")})`, "general.architecture");
  }
  const arch = ARCHITECTURES[architecture];
  const num = metadataReader(h, file, architecture);
  const key = (name: string) => h.metadata[`${architecture}.${name}`];
  if (num("expert_count", 0) !== 0) throw fail("mixture-of-experts blocks are not supported", `${architecture}.expert_count`);
  if (num("attention.scale", 0) !== 0) throw fail("a custom attention scale is not supported (reclm scales by 1/√head size)", `${architecture}.attention.scale`);
  const scaling = key("rope.scaling.type") ?? "linear"; // llama.cpp's default when the key is absent
  if (scaling !== "none" && scaling !== "linear") throw fail(`rope scaling "${String(scaling)}" is not supported (none, linear)`, `${architecture}.rope.scaling.type`);
  if (num("rope.scaling.attn_factor", 1) !== 1) throw fail("a rope attention factor other than 1 is not supported", `${architecture}.rope.scaling.attn_factor`);
  // llama.cpp: factor 0 (or absent) means none; the older key rope.scale_linear stands in for a missing factor.
  const factor = key("rope.scaling.factor") !== undefined ? num("rope.scaling.factor") : num("rope.scale_linear", 0);
  const emb = h.tensors.find((t) => t.name === "token_embd.weight");
  if (!emb) throw fail("GGUF has no token_embd.weight", "token_embd.weight");
  const dim = num("embedding_length");
  const heads = num("attention.head_count");
  // llama.cpp: each of key_length and value_length defaults to embedding_length / head_count on its own.
  const keyLength = num("attention.key_length", dim / heads);
  const valueLength = num("attention.value_length", dim / heads);
  if (keyLength !== valueLength) throw fail(`key heads of ${keyLength} and value heads of ${valueLength} differ; reclm's decoder needs one head size`, `${architecture}.attention.value_length`);
  if (!Number.isInteger(keyLength)) throw fail(`embedding_length ${dim} is not a multiple of head_count ${heads} and the file gives no key_length`, `${architecture}.attention.head_count`);
  const headDim = keyLength;
  const has = new Set(h.tensors.map((t) => t.name));
  const config: LlamaConfig = {
    architecture,
    vocabSize: emb.shape[0],
    dim,
    layers: num("block_count"),
    heads,
    kvHeads: num("attention.head_count_kv", heads),
    headDim,
    ffnDim: num("feed_forward_length"),
    rmsEps: num("attention.layer_norm_rms_epsilon"),
    ropeBase: num("rope.freq_base", 10000),
    ropeDims: num("rope.dimension_count", headDim),
    ropeMode: arch.ropeMode,
    freqScale: scaling === "none" || factor === 0 ? 1 : 1 / factor,
    ropeFreqs: arch.ropeFreqs && has.has("rope_freqs.weight"),
    // Optional biases come as a set over all layers; the ones of block 0 say which (the tensor check finds a gap).
    biases: LLAMA_PROJECTIONS.filter((p) => arch.requiredBiases.includes(p) || (arch.optionalBiases.includes(p) && has.has(`blk.0.${PROJECTION_TENSOR[p]}.bias`))),
    tiedOutput: !has.has("output.weight"),
    ...(arch.qkNorm ? { qkNorm: true } : {}),
  };
  checkLlamaConfig(config, file);
  checkLlamaTensors(config, h.tensors, file);
  return config;
}

/** The file holds exactly the tensors `config` implies, with their shapes: a missing or an unused one is named. */
function checkLlamaTensors(config: LlamaConfig, tensors: readonly GgufTensor[], file: string): void {
  const want = llamaTensorShapes(config);
  for (const t of tensors) {
    const shape = want.get(t.name);
    if (!shape) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" is not part of a ${config.architecture} model reclm's decoder runs (it would be left unused)`, { file, field: t.name });
    if (t.shape.join("x") !== shape.join("x")) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" has shape [${t.shape}], the metadata implies [${shape}]`, { file, field: t.name });
    }
  }
  const names = new Set(tensors.map((t) => t.name));
  for (const name of want.keys()) if (!names.has(name)) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `GGUF lacks tensor "${name}"`, { file, field: name });
}

/**
 * One tensor's stored bytes, read when the store is initialized (the file is opened then: the declared model holds
 * no weights in JS). A type ggml cannot size is an error naming the tensor.
 */
function tensorBytes(file: string, t: GgufTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  let size: number;
  try {
    size = t.ggmlType === GGML_F32 ? n * 4 : ggmlTypeBytes(t.ggmlType, n, t.shape[t.shape.length - 1]);
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" has ggml type ${t.ggmlType}, which reclm cannot read (${(e as Error).message})`, { file, field: t.name }, { cause: e });
  }
  const raw = new Uint8Array(size);
  const fd = openSync(file, "r");
  try {
    if (readSync(fd, raw, 0, size, t.fileOffset) !== size) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" is truncated`, { file, field: t.name });
  } finally {
    closeSync(fd);
  }
  return raw;
}

/** One tensor's values: F32 as stored, every other type ggml knows (F16, BF16, Q8_0, the K-quants...) through ggml's own converter. */
function tensorValues(file: string, t: GgufTensor): Float32Array {
  const raw = tensorBytes(file, t);
  return t.ggmlType === GGML_F32 ? new Float32Array(raw.buffer) : dequantize(t.ggmlType, raw, t.shape.reduce((a, b) => a * b, 1), t.shape[t.shape.length - 1]);
}

/** A base weight: values, values read at initialize, or ggml blocks kept as stored (frozen). */
export type WeightInit = Float32Array | Extract<Init, { kind: "load" | "packed" }>;

/** Where base weights come from: (GGUF tensor name, PyTorch-order shape) -> the weight. */
export type WeightSource = (name: string, shape: readonly number[]) => WeightInit;

export interface DeclareLlamaOptions {
  lora?: LoraOptions;
  /** Train the base weights too (full fine-tuning; F32 weights only). Default false: frozen. */
  trainBase?: boolean;
}

export interface DeclareLlamaFromGgufOptions extends DeclareLlamaOptions {
  /**
   * "file" (default unless trainBase): every matrix stays in its stored type when ggml can multiply and
   * differentiate through it as stored (`PackedType`: F16, Q8_0, Q4_0, the K-quants...), so a quantized model takes
   * its quantized size in memory and its matmuls are llama.cpp's; a matrix of another type is an error naming it.
   * "f32": every matrix dequantized to F32 once (needed to train the base, or for a type ggml cannot keep).
   * Vectors (norms, biases, rope_freqs) are F32 either way.
   */
  baseWeights?: "file" | "f32";
}

/**
 * Declares the decoder in `store` with weights from `source` (named as in GGUF: token_embd.weight, blk.<i>.attn_q.weight,
 * ...), frozen unless `trainBase`, and, if `lora` is given, the adapters (A ~ U(±1/√in) drawn at
 * `store.initialize`, B = 0). Call `store.initialize(rng)` afterwards.
 */
export function declareLlama(store: ParamStore, config: LlamaConfig, source: WeightSource, options: DeclareLlamaOptions = {}): LlamaModel {
  checkLlamaConfig(config);
  const shapes = llamaTensorShapes(config);
  const weight = (name: string, trainable = options.trainBase ?? false): Param => {
    const shape = [...shapes.get(name)!];
    const w = source(name, shape);
    if (!(w instanceof Float32Array) && w.kind === "packed" && trainable) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${name}" is stored as ${w.type}: training the base needs F32 weights (baseWeights: "f32")`, { field: name });
    }
    return store.add(name, shape, { init: w instanceof Float32Array ? { kind: "data", data: w } : w, trainable, decay: false });
  };
  const tokenEmbedding = weight("token_embd.weight");
  const layers: LayerParams[] = [];
  for (let i = 0; i < config.layers; i++) {
    const attnNorm = weight(`blk.${i}.attn_norm.weight`);
    const ffnNorm = weight(`blk.${i}.ffn_norm.weight`);
    const m = Object.fromEntries(LLAMA_PROJECTIONS.map((p) => [p, weight(`blk.${i}.${PROJECTION_TENSOR[p]}.weight`)])) as LayerMatrices;
    const bias = Object.fromEntries(config.biases.map((p) => [p, weight(`blk.${i}.${PROJECTION_TENSOR[p]}.bias`)]));
    const qkNorms = config.qkNorm ? { qNorm: weight(`blk.${i}.attn_q_norm.weight`), kNorm: weight(`blk.${i}.attn_k_norm.weight`) } : {};
    layers.push({ ...m, attnNorm, ffnNorm, bias, ...qkNorms });
  }
  const outputNorm = weight("output_norm.weight");
  const output = config.tiedOutput ? tokenEmbedding : weight("output.weight");
  // Frozen even under trainBase: ggml aborts when rope's frequency factors would need a gradient.
  const ropeFreqs = config.ropeFreqs ? weight("rope_freqs.weight", false) : undefined;
  const params: LlamaParams = { tokenEmbedding, outputNorm, output, ropeFreqs, layers, lora: new Map() };
  if (options.lora) addLora(store, params, options.lora);
  return { config, params, lora: options.lora };
}

/**
 * `declareLlama` with the weights of a GGUF file (its tensor set checked by `llamaConfigFromGguf`), read from the
 * file at `store.initialize`: matrices kept in their stored type or dequantized per `baseWeights`.
 */
export function declareLlamaFromGguf(store: ParamStore, header: GgufHeader, file: string, options: DeclareLlamaFromGgufOptions = {}): LlamaModel {
  const config = llamaConfigFromGguf(header, file);
  const baseWeights = options.baseWeights ?? (options.trainBase ? "f32" : "file");
  if (baseWeights === "file" && options.trainBase) throw new ReclmError("RECLM_ERR_BAD_CONFIG", 'trainBase needs F32 base weights: baseWeights "f32"', { file, field: "baseWeights" });
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return declareLlama(
    store,
    config,
    (name, shape): WeightInit => {
      const t = byName.get(name)!;
      if (shape.length === 1 || baseWeights === "f32" || t.ggmlType === GGML_F32) return { kind: "load", load: () => tensorValues(file, t) };
      const type = packedTypeOf(t.ggmlType);
      if (!type) {
        const stored = (() => {
          try {
            return ggmlTypeName(t.ggmlType);
          } catch {
            return `ggml type ${t.ggmlType}`;
          }
        })();
        throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${name}" is ${stored}, which ggml cannot multiply and differentiate through as stored (${Object.keys(PACKED_TYPE_ID).join(", ")}); declare with baseWeights: "f32" to dequantize it`, { file, field: name });
      }
      return { kind: "packed", type, load: () => tensorBytes(file, t) };
    },
    options,
  );
}

function addLora(store: ParamStore, params: LlamaParams, lora: LoraOptions): void {
  if (!(Number.isInteger(lora.rank) && lora.rank > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `LoRA rank must be a positive integer, got ${lora.rank}`, { field: "lora.rank" });
  for (const t of lora.targets) if (!LLAMA_PROJECTIONS.includes(t)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown LoRA target "${t}" (known: ${LLAMA_PROJECTIONS.join(", ")})`, { field: "lora.targets" });
  const layers = lora.layers ?? params.layers.map((_, i) => i);
  for (const [k, i] of layers.entries()) {
    if (!(Number.isInteger(i) && i >= 0 && i < params.layers.length) || layers.indexOf(i) !== k) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `LoRA layers must be distinct block indices in [0, ${params.layers.length}), got ${i}`, { field: "lora.layers" });
    }
  }
  params.layers.forEach((layer, i) => {
    if (!layers.includes(i)) return;
    for (const t of lora.targets) {
      const [out, inp] = layer[t].shape;
      const bound = 1 / Math.sqrt(inp);
      const a = store.add(`lora.${i}.${t}.a`, [lora.rank, inp], { init: { kind: "uniform", low: -bound, high: bound }, decay: true });
      const b = store.add(`lora.${i}.${t}.b`, [out, lora.rank], { init: { kind: "zeros" }, decay: true });
      params.lora.set(`blk.${i}.${t}`, { a, b, base: layer[t] });
    }
  });
}

export interface LlamaDecodeOptions {
  /**
   * Additive attention mask f32 [B or 1, 1, T, T] (query, key), added to the scaled scores beside the causal mask:
   * -1e9 where a query must not see a key (packed sequences, left padding). `llamaSegmentMask` builds one.
   */
  mask?: Tensor;
  /** Query rows per attention block (see `causalAttention`); default LLAMA_ATTENTION_BLOCK. */
  attentionBlock?: number;
  /**
   * Only these positions' final hidden states are wanted (a loss on the answer tokens, a verbalizer reading one
   * position): the last block then computes its queries, attention, output projection and MLP at these rows alone
   * (keys and values still at every position), and the decoder returns [R, D] instead of [B, T, D]. Nothing else
   * reads the last block's other rows, so the rows' values and every gradient are the whole window's.
   * `llamaOutputRowsInputs` builds the positions and mask from the row indices.
   */
  outputRows?: LlamaOutputRows;
}

/** The inputs of `LlamaDecodeOptions.outputRows`. */
export interface LlamaOutputRows {
  /** i32 [R]: flat b·T indices of the wanted positions. */
  rows: Tensor;
  /** i32 [R]: their rope positions. */
  positions: Tensor;
  /** f32 [R, B·T]: additive, 0 where row r sees key (b, t) (its own sequence, t at or before its own index), -1e9 elsewhere. */
  mask: Tensor;
}

/**
 * Whether reading `rows` of a [B, T] window is worth the last block's row path (`outputRows`): it scores each row
 * against all B·T keys (R·B·T scores against the causal window's ~B·T²/2), so it pays when R is well under T (an
 * answer, a last position per sequence), not when every position is labelled (pretraining).
 */
export function llamaRowsPayOff(rows: number, T: number): boolean {
  return rows * 4 <= T;
}

/**
 * The data of `outputRows.positions` and `outputRows.mask` for flat row indices `rows` of a [B, T] window whose
 * tokens sit at `positions` ([T], shared by every sequence, or [B·T]). With `segments` (one id per token, as
 * `llamaSegmentMask`), a row sees only keys of its own segment, as the decoder's `mask` makes the other rows do.
 */
export function llamaOutputRowsInputs(rows: ArrayLike<number>, B: number, T: number, positions: ArrayLike<number>, segments?: ArrayLike<number>): { positions: Int32Array; mask: Float32Array } {
  if (positions.length !== T && positions.length !== B * T) throw new ReclmError("RECLM_ERR_SHAPE", `llamaOutputRowsInputs: ${positions.length} positions for a ${B}×${T} window`, { field: "positions" });
  if (segments && segments.length !== B * T) throw new ReclmError("RECLM_ERR_SHAPE", `llamaOutputRowsInputs: ${segments.length} segment ids for a ${B}×${T} window`, { field: "segments" });
  const R = rows.length;
  const rowPositions = new Int32Array(R);
  const mask = new Float32Array(R * B * T).fill(-1e9);
  for (let i = 0; i < R; i++) {
    const r = rows[i];
    if (!(Number.isInteger(r) && r >= 0 && r < B * T)) throw new ReclmError("RECLM_ERR_SHAPE", `llamaOutputRowsInputs: row ${r} is outside the ${B}×${T} window`, { field: "rows" });
    rowPositions[i] = positions.length === T ? positions[r % T] : positions[r];
    const start = r - (r % T);
    for (let k = start; k <= r; k++) if (!segments || segments[k] === segments[r]) mask[i * B * T + k] = 0;
  }
  return { positions: rowPositions, mask };
}

/**
 * Queries per attention block. A window of T > this many tokens is attended block by block, each block against the
 * keys up to its own end only: the scores, softmax and products above the causal diagonal's blocks are never
 * computed or stored: (n + 1) / 2n of the full T×T work and memory for n blocks, 54% at T = 1,536. Measured on the
 * SmolLM2-135M-shape LoRA step at 1,536 tokens (bench/engine/llm-step-profile.ts, 1 thread, CPU time): one block
 * 31.9 s and a 3,659 MiB compute buffer; blocks of 512 25.1 s, 2,825 MiB; of 256 23.8 s, 2,575 MiB; of 128 22.9 s,
 * 2,480 MiB (smaller blocks: more, smaller products).
 */
export const LLAMA_ATTENTION_BLOCK = 128;

/**
 * The OUT_PROD rewrite setting (`CompileOptions.outProducts`) for a training graph of this decoder: attention's key and
 * value gradients (dK = dSᵀ·Q and dV = Pᵀ·dO, each contracting over a block's queries) are OUT_PRODs with ~40-60
 * multiply-adds per element their rewrite copies, under the retrievers' default of 100, and run ~2x faster as
 * MUL_MATs even with the copy. Measured on the SmolLM2-135M-shape LoRA step at 1,536 tokens
 * (`npx tsx bench/engine/llm-step-ab.ts --thresholds 40,100,40 --reps 2`: graphs at 40, 100 and 40 again compiled in
 * one process, their steps alternated, 1 thread, CPU time, min): 21.12 and 20.76 s at 40 against 21.83 s at 100.
 */
export const LLAMA_OUT_PRODUCTS = { minMacsPerCopy: 40 } as const;

/** How many query blocks a window of T tokens is attended in. */
export function llamaAttentionBlocks(T: number, block = LLAMA_ATTENTION_BLOCK): number {
  return Math.ceil(T / block);
}

/**
 * Logits [B, T, V] of the decoder over `tokens` (i32 [B, T]) at `positions`: i32 [T] (the same for every row,
 * usually 0..T-1) or i32 [B·T] (one per token, row-major: padded batches of different lengths, packed or offset
 * sequences). Causal attention over the whole window; no KV cache (training and single-pass scoring).
 */
export function llamaLogits(b: Builder, model: LlamaModel, tokens: Tensor, positions: Tensor, options: LlamaDecodeOptions = {}): Tensor {
  return b.linear(llamaHidden(b, model, tokens, positions, options), model.params.output);
}

/** Final hidden states [B, T, D] (after the output RMSNorm), before the vocabulary head. */
export function llamaHidden(b: Builder, model: LlamaModel, tokens: Tensor, positions: Tensor, options: LlamaDecodeOptions = {}): Tensor {
  if (tokens.rank !== 2) throw new ReclmError("RECLM_ERR_SHAPE", `llama: tokens must be [B, T], got [${tokens.shape}]`);
  return llamaDecode(b, model, llamaEmbed(b, model, tokens), positions, options);
}

/** The token embeddings [B, T, D] the decoder starts from (the rows of token_embd). */
export function llamaEmbed(b: Builder, model: LlamaModel, tokens: Tensor): Tensor {
  return b.embedding(model.params.tokenEmbedding, tokens);
}

/**
 * Input embeddings [B, T, D] from token ids with chosen positions replaced by given vectors (an item's slot in a prompt):
 * position (r, t) takes row `injectFrom[r, t]` of `vectors` [n, D] when that is < n, and keeps its token's
 * embedding when it is n. `injectFrom` is an i32 [B, T] input (`llamaInjectionIndex` builds it from the injected
 * positions). Composed from ops with a backward (ggml has no scatter that has one): the rows are gathered from
 * [vectors; 0] with GET_ROWS, whose gradient scatters back to the vectors, and the token embeddings are multiplied
 * by a gathered 0/1 keep flag; a kept row is its embedding exactly (·1 + 0), an injected one its vector exactly.
 */
export function llamaEmbedWithInjections(b: Builder, model: LlamaModel, tokens: Tensor, injectFrom: Tensor, vectors: Tensor): Tensor {
  const D = model.config.dim;
  if (tokens.rank !== 2) throw new ReclmError("RECLM_ERR_SHAPE", `llama: tokens must be [B, T], got [${tokens.shape}]`, { field: "tokens" });
  if (injectFrom.dtype !== "i32" || injectFrom.shape.join("x") !== tokens.shape.join("x")) {
    throw new ReclmError("RECLM_ERR_SHAPE", `llama: injectFrom must be i32 [${tokens.shape}] like the tokens, got ${injectFrom.dtype}[${injectFrom.shape}]`, { field: "injectFrom" });
  }
  if (vectors.rank !== 2 || vectors.shape[1] !== D) throw new ReclmError("RECLM_ERR_SHAPE", `llama: injected vectors must be [n, ${D}], got [${vectors.shape}]`, { field: "vectors" });
  const n = vectors.shape[0];
  const keepFlag = new Float32Array(n + 1);
  keepFlag[n] = 1;
  const keep = b.embedding(b.constant(keepFlag, [n + 1, 1]), injectFrom); // [B, T, 1]
  const injected = b.embedding(b.concat([vectors, b.constant(0, [1, D])], 0), injectFrom); // [B, T, D]
  return b.add(b.mul(llamaEmbed(b, model, tokens), keep), injected);
}

/**
 * The `injectFrom` data of `llamaEmbedWithInjections` for a [B, T] batch: vector j goes to flat position
 * injectAt[j] (r·T + t); every other position keeps its token (value n = injectAt.length).
 */
export function llamaInjectionIndex(B: number, T: number, injectAt: ArrayLike<number>): Int32Array {
  const n = injectAt.length;
  const out = new Int32Array(B * T).fill(n);
  for (let j = 0; j < n; j++) {
    const at = injectAt[j];
    if (!(Number.isInteger(at) && at >= 0 && at < B * T)) throw new ReclmError("RECLM_ERR_SHAPE", `injected vector ${j} goes to position ${at}, outside the ${B}×${T} batch`, { field: "injectAt" });
    if (out[at] !== n) throw new ReclmError("RECLM_ERR_SHAPE", `injected vectors ${out[at]} and ${j} both go to position ${at}`, { field: "injectAt" });
    out[at] = j;
  }
  return out;
}

/**
 * The decoder over input embeddings x [B, T, D] instead of token ids: the transformer blocks and the final RMSNorm.
 * Methods whose inputs are not all tokens start here: a projected item vector where an item's slot token would be,
 * or a sequence of one cached vector per item. Gradients reach x, so whatever produced
 * it (a projector, item vectors) trains with the LoRA factors. `positions` as in `llamaLogits`.
 */
export function llamaDecode(b: Builder, model: LlamaModel, x0: Tensor, positions: Tensor, options: LlamaDecodeOptions = {}): Tensor {
  const { config: c, params: p } = model;
  if (x0.rank !== 3 || x0.shape[2] !== c.dim) {
    throw new ReclmError("RECLM_ERR_SHAPE", `llama: input embeddings must be [B, T, ${c.dim}], got [${x0.shape}]`);
  }
  const [B, T] = x0.shape;
  if (positions.dtype !== "i32" || positions.rank !== 1 || (positions.shape[0] !== T && positions.shape[0] !== B * T)) {
    throw new ReclmError("RECLM_ERR_SHAPE", `llama: positions must be i32 [${T}] or [${B * T}] (one per token), got ${positions.dtype}[${positions.shape}]`, { field: "positions" });
  }
  const { mask, outputRows } = options;
  if (outputRows) checkOutputRows(outputRows, B, T);
  if (mask && (mask.rank !== 4 || (mask.shape[0] !== 1 && mask.shape[0] !== B) || mask.shape[1] !== 1 || mask.shape[2] !== T || mask.shape[3] !== T)) {
    throw new ReclmError("RECLM_ERR_SHAPE", `llama: attention mask must be [${B} or 1, 1, ${T}, ${T}], got [${mask.shape}]`, { field: "mask" });
  }
  // One position per token: rope runs over the batch flattened into one sequence, [1, B·T, heads, Dh], where
  // ggml's rope takes one position per row of its third dimension.
  const perToken = positions.shape[0] !== T;
  const ropeOptions = { mode: c.ropeMode, base: c.ropeBase, nDims: c.ropeDims, freqScale: c.freqScale, freqFactors: p.ropeFreqs };
  // qwen3 RMS-normalizes each head (over its Dh values, one weight vector for all heads) before rope.
  const headNorm = (y: Tensor, norm: Param | undefined) => (norm ? b.rmsNorm(y, norm, c.rmsEps) : y);
  const rope = (y: Tensor, n: number, norm: Param | undefined) => {
    const heads = headNorm(b.reshape(y, perToken ? [1, B * T, n, c.headDim] : [B, T, n, c.headDim]), norm);
    const flat = b.rope(heads, positions, ropeOptions);
    return b.permute(b.reshape(flat, [B, T, n, c.headDim]), [0, 2, 1, 3]); // [B, n, T, Dh]
  };
  // A bias is added to W·x and the adapter's (alpha/r)·B·A·x beside it: llama.cpp's build_lora_mm adapts W only.
  const proj = (x: Tensor, layer: number, target: LlamaProjection): Tensor => {
    const l = p.layers[layer];
    const base = b.linear(x, l[target], l.bias[target]);
    const ad = p.lora.get(`blk.${layer}.${target}`);
    if (!ad || !model.lora) return base;
    const xa = b.linear(b.dropout(x, model.lora.dropout ?? 0), ad.a);
    return b.add(base, b.scale(b.linear(xa, ad.b), model.lora.alpha / model.lora.rank));
  };
  const block = options.attentionBlock ?? LLAMA_ATTENTION_BLOCK;
  if (!(Number.isInteger(block) && block > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `llama: attentionBlock must be a positive integer, got ${block}`, { field: "attentionBlock" });
  let x = x0; // [B, T, D]; [R, D] after the last block when only outputRows are wanted
  for (let i = 0; i < c.layers; i++) {
    const l = p.layers[i];
    const h = b.rmsNorm(x, l.attnNorm, c.rmsEps);
    const k = rope(proj(h, i, "k"), c.kvHeads, l.kNorm); // [B, Hkv, T, Dh]
    const v = b.permute(b.reshape(proj(h, i, "v"), [B, T, c.kvHeads, c.headDim]), [0, 2, 1, 3]);
    if (outputRows && i === c.layers - 1) {
      const flat = (y: Tensor) => b.reshape(y, [B * T, c.dim]);
      const R = outputRows.rows.shape[0];
      const qRows = b.rope(headNorm(b.reshape(proj(b.gatherRows(flat(h), outputRows.rows), i, "q"), [1, R, c.heads, c.headDim]), l.qNorm), outputRows.positions, ropeOptions);
      x = b.add(b.gatherRows(flat(x), outputRows.rows), proj(rowAttention(b, c, qRows, k, v, outputRows.mask), i, "o"));
    } else {
      const q = rope(proj(h, i, "q"), c.heads, l.qNorm); // [B, H, T, Dh]
      x = b.add(x, proj(causalAttention(b, c, q, k, v, mask, block), i, "o"));
    }
    const h2 = b.rmsNorm(x, l.ffnNorm, c.rmsEps);
    x = b.add(x, proj(b.swiglu(proj(h2, i, "gate"), proj(h2, i, "up")), i, "down"));
  }
  return b.rmsNorm(x, p.outputNorm, c.rmsEps);
}

function checkOutputRows(o: LlamaOutputRows, B: number, T: number): void {
  const R = o.rows.shape[0];
  if (o.rows.dtype !== "i32" || o.rows.rank !== 1) throw new ReclmError("RECLM_ERR_SHAPE", `llama: outputRows.rows must be i32 [R], got ${o.rows.dtype}[${o.rows.shape}]`, { field: "outputRows.rows" });
  if (o.positions.dtype !== "i32" || o.positions.shape.join("x") !== `${R}`) throw new ReclmError("RECLM_ERR_SHAPE", `llama: outputRows.positions must be i32 [${R}] like the rows, got ${o.positions.dtype}[${o.positions.shape}]`, { field: "outputRows.positions" });
  if (o.mask.dtype !== "f32" || o.mask.shape.join("x") !== `${R}x${B * T}`) throw new ReclmError("RECLM_ERR_SHAPE", `llama: outputRows.mask must be f32 [${R}, ${B * T}] (rows × the window's keys), got ${o.mask.dtype}[${o.mask.shape}]`, { field: "outputRows.mask" });
}

/**
 * Attention of R single query rows q [1, R, H, Dh] (roped) over the whole batch's keys and values k, v
 * [B, Hkv, T, Dh] -> [R, H·Dh]: the rows come from any of the B sequences, so each scores all B·T keys and `mask`
 * [R, B·T] keeps its own sequence's past. Grouped-query heads as in `causalAttention`.
 */
function rowAttention(b: Builder, c: LlamaConfig, q: Tensor, k: Tensor, v: Tensor, mask: Tensor): Tensor {
  const [, R, H, Dh] = q.shape;
  const [B, Hkv, T] = k.shape;
  const g = H / Hkv;
  const batchKeys = (y: Tensor) => b.reshape(b.permute(y, [1, 0, 2, 3]), [Hkv, B * T, Dh]); // [Hkv, B·T, Dh]
  const qg = b.reshape(b.permute(q, [0, 2, 1, 3]), [Hkv, g * R, Dh]);
  const scores = b.reshape(b.matmulNT(qg, batchKeys(k)), [H, R, B * T]);
  const att = b.softmax(scores, { scale: 1 / Math.sqrt(Dh), mask });
  const heads = b.reshape(b.matmul(b.reshape(att, [Hkv, g * R, B * T]), batchKeys(v)), [H, R, Dh]);
  return b.reshape(b.permute(heads, [1, 0, 2]), [R, H * Dh]);
}

/**
 * Causal grouped-query attention of q [B, H, T, Dh] over k, v [B, Hkv, T, Dh] -> [B, T, H·Dh].
 * Query head h reads kv head floor(h / g), g = H / Hkv (llama.cpp's and ggml's broadcast order), so the g query heads
 * of a kv head, contiguous in q, are one [g·L, Dh] matrix against it: no broadcast (ggml's MUL_MAT backward asserts,
 * aborting the process, on a broadcast operand that needs a gradient when B > 1).
 * Windows longer than `block` go block by block: queries [s, e) against keys [0, e) with the causal diagonal moved by
 * s. The keys after e are the ones causality hides from every query of the block, whose softmax weights are exactly 0,
 * so the result is the full window's (test/llm/llama-attention.test.ts) with roughly half the work and memory.
 */
function causalAttention(b: Builder, c: LlamaConfig, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, block: number): Tensor {
  const [B, , T, Dh] = q.shape;
  const g = c.heads / c.kvHeads;
  const scale = 1 / Math.sqrt(Dh);
  if (T <= block) {
    const scores = b.reshape(b.matmulNT(b.reshape(q, [B, c.kvHeads, g * T, Dh]), k), [B, c.heads, T, T]);
    const att = b.softmax(scores, { scale, causal: true, mask }); // [B, H, T, T]
    const heads = b.reshape(b.matmul(b.reshape(att, [B, c.kvHeads, g * T, T]), v), [B, c.heads, T, Dh]);
    return b.reshape(b.cont(b.permute(heads, [0, 2, 1, 3])), [B, T, c.heads * Dh]);
  }
  // Blocks are views of contiguous tensors, made so by a reshape: ggml's VIEW backward adds a view's gradient into its
  // source as if that source were contiguous (a view of a permuted tensor would scatter it to the wrong places), and
  // zeroes it with SCALE, which asserts on a source ggml does not see as contiguous (a permute over a size-1 dim).
  const BH = B * c.kvHeads;
  const qc = b.reshape(b.cont(q), [B * c.heads, T, Dh]);
  const kc = b.reshape(b.cont(k), [BH, T, Dh]);
  const vT = b.reshape(b.cont(b.transpose(v)), [BH, Dh, T]);
  const parts: Tensor[] = [];
  for (let s = 0; s < T; s += block) {
    const L = Math.min(block, T - s);
    const e = s + L;
    const qb = b.reshape(b.slice(qc, 1, s, L), [BH, g * L, Dh]);
    const scores = b.reshape(b.matmulNT(qb, b.slice(kc, 1, 0, e)), [B, c.heads, L, e]);
    const maskBlock = mask && b.cont(b.slice(b.slice(mask, 2, s, L), 3, 0, e));
    const att = b.softmax(scores, { scale, causal: true, causalOffset: s, mask: maskBlock }); // [B, H, L, e]
    const heads = b.reshape(b.matmulNT(b.reshape(att, [BH, g * L, e]), b.slice(vT, 2, 0, e)), [B, c.heads, L, Dh]);
    parts.push(b.reshape(b.cont(b.permute(heads, [0, 2, 1, 3])), [B, L, c.heads * Dh]));
  }
  return b.concat(parts, 1);
}

/**
 * An additive attention mask [B, 1, T, T] (the `mask` of `llamaDecode`) from one segment id per token (row-major,
 * B·T): a query sees only keys of its own segment (the causal mask still applies). Packed sequences get one id
 * each; left or right padding gets an id of its own, so real tokens never see it.
 */
export function llamaSegmentMask(segments: ArrayLike<number>, B: number, T: number): Float32Array {
  if (segments.length !== B * T) throw new ReclmError("RECLM_ERR_SHAPE", `llamaSegmentMask: ${segments.length} segment ids for ${B}×${T} tokens`, { field: "segments" });
  const out = new Float32Array(B * T * T);
  for (let r = 0; r < B; r++) {
    for (let q = 0; q < T; q++) {
      for (let k = 0; k < T; k++) if (segments[r * T + q] !== segments[r * T + k]) out[(r * T + q) * T + k] = -1e9;
    }
  }
  return out;
}
