/**
 * reclm's own llama-architecture decoder on the training engine: the forward llama.cpp runs (RMSNorm, rotary
 * position embedding, grouped-query causal attention, SwiGLU MLP, final RMSNorm, output head), built with engine ops
 * that all have a backward, plus LoRA adapters (W + (alpha/r)·B·A, B = 0 at init, as PEFT) on any projection.
 * The base weights come from a GGUF file (F32, F16, or any quantized type llama.cpp reads, dequantized once) and stay
 * frozen unless asked; the LoRA factors are the trainable parameters. This is the decoder forward the LLM methods
 * (LlamaRec's verbalizer fine-tuning, LLaRA, GenRec, Lite-LLM4Rec) share: one forward, one LoRA, one trainer.
 * Parity with llama.cpp on real weights: test/llm/llama.test.ts.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { dequantize, ggmlTypeBytes, type Builder, type Param, type ParamStore, type Tensor } from "../engine/index.ts";
import { ReclmError } from "../errors.ts";
import type { GgufHeader, GgufTensor } from "./runtime.ts";

export interface LlamaConfig {
  vocabSize: number;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffnDim: number;
  rmsEps: number;
  ropeBase: number;
  /** Rotated dims per head (llama: all of them). */
  ropeDims: number;
  /** No output.weight in the file: the head reuses token_embd (tied). */
  tiedOutput: boolean;
}

export type LoraTarget = "q" | "k" | "v" | "o" | "gate" | "up" | "down";

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Projections that get an adapter (LlamaRec: q, v; LLaRA: all seven). */
  targets: readonly LoraTarget[];
  /** Dropout on the adapter's input in training graphs (LlamaRec 0.05, LLaRA 0.1). Default 0. */
  dropout?: number;
}

interface LayerParams {
  attnNorm: Param;
  q: Param;
  k: Param;
  v: Param;
  o: Param;
  ffnNorm: Param;
  gate: Param;
  up: Param;
  down: Param;
}

export interface LlamaParams {
  tokenEmbedding: Param;
  outputNorm: Param;
  output: Param;
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

const num = (h: GgufHeader, key: string, file: string, fallback?: number): number => {
  const v = h.metadata[key];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (fallback !== undefined) return fallback;
  throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `GGUF metadata lacks "${key}"`, { file, field: key });
};

/** The decoder's shape from GGUF metadata (llama.cpp's `llama.*` keys) and tensor table. */
export function llamaConfigFromGguf(h: GgufHeader, file: string): LlamaConfig {
  if (h.architecture !== "llama") {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `architecture "${h.architecture}" is not supported by reclm's trainable decoder yet (llama only)`, { file, field: "general.architecture" });
  }
  const emb = h.tensors.find((t) => t.name === "token_embd.weight");
  if (!emb) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", "GGUF has no token_embd.weight", { file });
  const dim = num(h, "llama.embedding_length", file);
  const heads = num(h, "llama.attention.head_count", file);
  const headDim = dim / heads;
  return {
    vocabSize: emb.shape[0],
    dim,
    layers: num(h, "llama.block_count", file),
    heads,
    kvHeads: num(h, "llama.attention.head_count_kv", file, heads),
    headDim,
    ffnDim: num(h, "llama.feed_forward_length", file),
    rmsEps: num(h, "llama.attention.layer_norm_rms_epsilon", file),
    ropeBase: num(h, "llama.rope.freq_base", file, 10000),
    ropeDims: num(h, "llama.rope.dimension_count", file, headDim),
    tiedOutput: !h.tensors.some((t) => t.name === "output.weight"),
  };
}

/**
 * Reads one tensor's values from the GGUF file: F32 as stored, every other type ggml knows (F16, BF16, Q8_0, Q4_0,
 * the K-quants...) converted by ggml's own routine. The base weights are frozen, so a quantized model trains its LoRA
 * factors against the dequantized weights, the values llama.cpp multiplies with.
 */
function readTensor(fd: number, t: GgufTensor, file: string): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const perRow = t.shape[t.shape.length - 1];
  let size: number;
  try {
    size = t.ggmlType === GGML_F32 ? n * 4 : ggmlTypeBytes(t.ggmlType, n, perRow);
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" has ggml type ${t.ggmlType}, which reclm cannot read (${(e as Error).message})`, { file, field: t.name }, { cause: e });
  }
  const raw = new Uint8Array(size);
  const got = readSync(fd, raw, 0, size, t.fileOffset);
  if (got !== size) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${t.name}" is truncated`, { file, field: t.name });
  return t.ggmlType === GGML_F32 ? new Float32Array(raw.buffer) : dequantize(t.ggmlType, raw, n, perRow);
}

/** Where base weights come from: (GGUF tensor name, PyTorch-order shape) -> values. */
export type WeightSource = (name: string, shape: readonly number[]) => Float32Array;

export interface DeclareLlamaOptions {
  lora?: LoraOptions;
  /** Train the base weights too (full fine-tuning). Default false: frozen. */
  trainBase?: boolean;
}

/**
 * Declares the decoder in `store` with weights from `source` (named as in GGUF: token_embd.weight, blk.<i>.attn_q.weight,
 * ...), frozen unless `trainBase`, and, if `lora` is given, the adapters (A ~ U(±1/√in) drawn at
 * `store.initialize`, B = 0). Call `store.initialize(rng)` afterwards.
 */
export function declareLlama(store: ParamStore, config: LlamaConfig, source: WeightSource, options: DeclareLlamaOptions = {}): LlamaModel {
  const weight = (name: string, shape: number[]): Param =>
    store.add(name, shape, { init: { kind: "data", data: source(name, shape) }, trainable: options.trainBase ?? false, decay: false });
  const { dim: D, headDim: Dh, heads: H, kvHeads: Hkv, ffnDim: F, vocabSize: V } = config;
  const tokenEmbedding = weight("token_embd.weight", [V, D]);
  const outputNorm = weight("output_norm.weight", [D]);
  const output = config.tiedOutput ? tokenEmbedding : weight("output.weight", [V, D]);
  const layers: LayerParams[] = [];
  for (let i = 0; i < config.layers; i++) {
    const w = (n: string, shape: number[]) => weight(`blk.${i}.${n}.weight`, shape);
    layers.push({
      attnNorm: w("attn_norm", [D]),
      q: w("attn_q", [H * Dh, D]),
      k: w("attn_k", [Hkv * Dh, D]),
      v: w("attn_v", [Hkv * Dh, D]),
      o: w("attn_output", [D, H * Dh]),
      ffnNorm: w("ffn_norm", [D]),
      gate: w("ffn_gate", [F, D]),
      up: w("ffn_up", [F, D]),
      down: w("ffn_down", [D, F]),
    });
  }
  const params: LlamaParams = { tokenEmbedding, outputNorm, output, layers, lora: new Map() };
  if (options.lora) addLora(store, params, options.lora);
  return { config, params, lora: options.lora };
}

/** `declareLlama` with the weights of a GGUF file (F32, F16 or quantized tensors, shapes checked against the metadata). */
export function declareLlamaFromGguf(store: ParamStore, header: GgufHeader, file: string, options: DeclareLlamaOptions = {}): LlamaModel {
  const config = llamaConfigFromGguf(header, file);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const fd = openSync(file, "r");
  try {
    return declareLlama(
      store,
      config,
      (name, shape) => {
        const t = byName.get(name);
        if (!t) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `GGUF lacks tensor "${name}"`, { file, field: name });
        if (t.shape.join("x") !== shape.join("x")) {
          throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `tensor "${name}" has shape [${t.shape}], the metadata implies [${shape}]`, { file, field: name });
        }
        return readTensor(fd, t, file);
      },
      options,
    );
  } finally {
    closeSync(fd);
  }
}

const TARGET_PARAM: Record<LoraTarget, keyof LayerParams> = { q: "q", k: "k", v: "v", o: "o", gate: "gate", up: "up", down: "down" };

function addLora(store: ParamStore, params: LlamaParams, lora: LoraOptions): void {
  if (!(Number.isInteger(lora.rank) && lora.rank > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `LoRA rank must be a positive integer, got ${lora.rank}`, { field: "lora.rank" });
  for (const t of lora.targets) if (!(t in TARGET_PARAM)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown LoRA target "${t}" (known: ${Object.keys(TARGET_PARAM).join(", ")})`, { field: "lora.targets" });
  params.layers.forEach((layer, i) => {
    for (const t of lora.targets) {
      const [out, inp] = layer[TARGET_PARAM[t]].shape;
      const bound = 1 / Math.sqrt(inp);
      const a = store.add(`lora.${i}.${t}.a`, [lora.rank, inp], { init: { kind: "uniform", low: -bound, high: bound }, decay: true });
      const b = store.add(`lora.${i}.${t}.b`, [out, lora.rank], { init: { kind: "zeros" }, decay: true });
      params.lora.set(`blk.${i}.${t}`, { a, b, base: layer[TARGET_PARAM[t]] });
    }
  });
}

/**
 * Logits [B, T, V] of the decoder over `tokens` (i32 [B, T]) at `positions` (i32 [T], usually 0..T-1).
 * Causal attention over the whole window; no KV cache (training and single-pass scoring).
 */
export function llamaLogits(b: Builder, model: LlamaModel, tokens: Tensor, positions: Tensor): Tensor {
  return b.linear(llamaHidden(b, model, tokens, positions), model.params.output);
}

/** Final hidden states [B, T, D] (after the output RMSNorm), before the vocabulary head. */
export function llamaHidden(b: Builder, model: LlamaModel, tokens: Tensor, positions: Tensor): Tensor {
  if (tokens.rank !== 2) throw new ReclmError("RECLM_ERR_SHAPE", `llama: tokens must be [B, T], got [${tokens.shape}]`);
  return llamaDecode(b, model, llamaEmbed(b, model, tokens), positions);
}

/** The token embeddings [B, T, D] the decoder starts from (the rows of token_embd). */
export function llamaEmbed(b: Builder, model: LlamaModel, tokens: Tensor): Tensor {
  return b.embedding(model.params.tokenEmbedding, tokens);
}

/**
 * The decoder over input embeddings x [B, T, D] instead of token ids: the transformer blocks and the final RMSNorm.
 * Methods whose inputs are not all tokens start here: LLaRA puts a projected item vector where an item's slot token
 * would be, Lite-LLM4Rec runs its rec-LLM over one cached vector per item. Gradients reach x, so whatever produced
 * it (a projector, item vectors) trains with the LoRA factors.
 */
export function llamaDecode(b: Builder, model: LlamaModel, x0: Tensor, positions: Tensor): Tensor {
  const { config: c, params: p } = model;
  if (x0.rank !== 3 || x0.shape[2] !== c.dim) {
    throw new ReclmError("RECLM_ERR_SHAPE", `llama: input embeddings must be [B, T, ${c.dim}], got [${x0.shape}]`);
  }
  const [B, T] = x0.shape;
  const proj = (x: Tensor, layer: number, target: LoraTarget): Tensor => {
    const base = b.linear(x, p.layers[layer][TARGET_PARAM[target]]);
    const ad = p.lora.get(`blk.${layer}.${target}`);
    if (!ad || !model.lora) return base;
    const xa = b.linear(b.dropout(x, model.lora.dropout ?? 0), ad.a);
    return b.add(base, b.scale(b.linear(xa, ad.b), model.lora.alpha / model.lora.rank));
  };
  const heads = (x: Tensor, n: number) => b.permute(b.reshape(x, [B, T, n, c.headDim]), [0, 2, 1, 3]); // [B, n, T, Dh]
  let x = x0; // [B, T, D]
  for (let i = 0; i < c.layers; i++) {
    const l = p.layers[i];
    const h = b.rmsNorm(x, l.attnNorm, c.rmsEps);
    const rope = (y: Tensor, n: number) => b.rope(b.reshape(y, [B, T, n, c.headDim]), positions, { mode: "normal", base: c.ropeBase, nDims: c.ropeDims });
    // The batch is folded into the head dimension ([1, B·H, T, Dh]): ggml broadcasts the Hkv key/value heads over
    // the H query heads (GQA) only in dims 0-2 of a backward pass (MUL_MAT's backward asserts ne[3] == 1), and with
    // B·H query heads against B·Hkv key heads its broadcast still pairs query head h of sequence s with
    // key head h / (H / Hkv) of the same sequence.
    const fold = (y: Tensor, n: number) => b.reshape(y, [1, B * n, T, c.headDim]);
    const q = fold(b.permute(rope(proj(h, i, "q"), c.heads), [0, 2, 1, 3]), c.heads); // [1, B·H, T, Dh]
    const k = fold(b.permute(rope(proj(h, i, "k"), c.kvHeads), [0, 2, 1, 3]), c.kvHeads); // [1, B·Hkv, T, Dh]
    const v = fold(heads(proj(h, i, "v"), c.kvHeads), c.kvHeads);
    const att = b.softmax(b.matmulNT(q, k), { scale: 1 / Math.sqrt(c.headDim), causal: true }); // [1, B·H, T, T]
    const o = b.reshape(b.matmul(att, v), [B, c.heads, T, c.headDim]);
    const ctx = b.reshape(b.cont(b.permute(o, [0, 2, 1, 3])), [B, T, c.heads * c.headDim]);
    x = b.add(x, proj(ctx, i, "o"));
    const h2 = b.rmsNorm(x, l.ffnNorm, c.rmsEps);
    x = b.add(x, proj(b.swiglu(proj(h2, i, "gate"), proj(h2, i, "up")), i, "down"));
  }
  return b.rmsNorm(x, p.outputNorm, c.rmsEps);
}
