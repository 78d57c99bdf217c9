/**
 * Llama-family models (the architectures reclm's decoder runs: llama, qwen2, qwen3) as GGUF files llama.cpp loads: the
 * architecture metadata under `{arch}.*` as llama.cpp's converters write it, and a writer that takes the weights by
 * GGUF tensor name, checked against the set the config implies (llama.ts `llamaTensorShapes`, the same table the
 * reader checks a file against). Used for the tiny test models (tiny-llama.ts) and for exporting an LM reclm trained.
 */
import { ReclmError } from "../errors.ts";
import { gguf, writeGguf, type GgufTensorData, type GgufTensorType, type GgufValue } from "./gguf-writer.ts";
import { checkLlamaConfig, llamaTensorShapes, type LlamaConfig } from "./llama.ts";

export interface LlamaFamilyMetadataOptions {
  /** general.name. Default "reclm <architecture> model". */
  name?: string;
  /** `{arch}.context_length` (the positions the model was trained for). Default 2048. */
  contextLength?: number;
}

/**
 * The `general.architecture` and `{arch}.*` keys of a model with this config. key_length/value_length are written only
 * when the head size is not dim / heads (as the HF converter does for configs with an explicit head_dim), and
 * rope.scaling.type/factor only for linear scaling (freqScale != 1). Tokenizer keys are the caller's.
 */
export function llamaFamilyGgufMetadata(config: LlamaConfig, options: LlamaFamilyMetadataOptions = {}): Record<string, GgufValue> {
  checkLlamaConfig(config);
  const a = config.architecture;
  const contextLength = options.contextLength ?? 2048;
  if (!(Number.isInteger(contextLength) && contextLength > 0)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `contextLength must be a positive integer, got ${contextLength}`, { field: "contextLength" });
  const m: Record<string, GgufValue> = {
    "general.architecture": gguf.str(a),
    "general.name": gguf.str(options.name ?? `reclm ${a} model`),
    [`${a}.context_length`]: gguf.u32(contextLength),
    [`${a}.embedding_length`]: gguf.u32(config.dim),
    [`${a}.block_count`]: gguf.u32(config.layers),
    [`${a}.feed_forward_length`]: gguf.u32(config.ffnDim),
    [`${a}.attention.head_count`]: gguf.u32(config.heads),
    [`${a}.attention.head_count_kv`]: gguf.u32(config.kvHeads),
    [`${a}.attention.layer_norm_rms_epsilon`]: gguf.f32(config.rmsEps),
    [`${a}.rope.dimension_count`]: gguf.u32(config.ropeDims),
    [`${a}.rope.freq_base`]: gguf.f32(config.ropeBase),
    [`${a}.vocab_size`]: gguf.u32(config.vocabSize),
  };
  if (config.headDim * config.heads !== config.dim) {
    m[`${a}.attention.key_length`] = gguf.u32(config.headDim);
    m[`${a}.attention.value_length`] = gguf.u32(config.headDim);
  }
  if (config.freqScale !== 1) {
    m[`${a}.rope.scaling.type`] = gguf.str("linear");
    m[`${a}.rope.scaling.factor`] = gguf.f32(1 / config.freqScale);
  }
  return m;
}

/** The stored type of a matrix (rank-2 tensor), by name and shape; vectors (norms, biases, rope_freqs) stay F32. */
export type WeightTypeChoice = GgufTensorType | ((name: string, shape: readonly number[]) => GgufTensorType);

/**
 * Writes a llama-family model: `tensors` by GGUF name (token_embd.weight, blk.<i>.attn_q.weight, ...; PyTorch-order
 * values), exactly the set `llamaTensorShapes(config)` lists, matrices stored as `weightType` (default F32).
 * Written atomically. A missing, extra or wrongly sized tensor is an error naming it.
 */
export function writeLlamaFamilyGguf(
  path: string,
  config: LlamaConfig,
  tensors: ReadonlyMap<string, Float32Array>,
  tokenizerMetadata: Readonly<Record<string, GgufValue>>,
  weightType: WeightTypeChoice = "f32",
  options: LlamaFamilyMetadataOptions = {},
): void {
  const metadata = llamaFamilyGgufMetadata(config, options);
  for (const k of Object.keys(tokenizerMetadata)) {
    if (!k.startsWith("tokenizer.")) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `tokenizer metadata key "${k}" is not a tokenizer.* key`, { field: k });
  }
  const shapes = llamaTensorShapes(config);
  for (const name of tensors.keys()) if (!shapes.has(name)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `tensor "${name}" is not part of a ${config.architecture} model of this config`, { field: name });
  const out: GgufTensorData[] = [...shapes].map(([name, shape]) => {
    const data = tensors.get(name);
    if (!data) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `tensor "${name}" is missing`, { field: name });
    const type = shape.length === 1 ? "f32" : typeof weightType === "function" ? weightType(name, shape) : weightType;
    return { name, shape, data, type };
  });
  writeGguf(path, { ...metadata, ...tokenizerMetadata }, out);
}
