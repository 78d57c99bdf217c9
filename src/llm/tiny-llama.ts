/**
 * Tiny llama-architecture GGUF models with random weights and a small SentencePiece-style vocabulary, written by
 * reclm itself: tests exercise real GGUF loading (reclm's reader and llama.cpp's), the decoder forward and LoRA on a
 * fresh machine, without downloaded weights. The vocabulary has llama's control tokens, the 256 byte tokens
 * (<0x00>..<0xFF>, so any text tokenizes) and `words` as "▁word" pieces (with the pieces SentencePiece merges them from).
 */
import { Rng } from "../rng.ts";
import { gguf, writeGguf, type GgufTensorData, type GgufValue } from "./gguf-writer.ts";
import type { LlamaConfig } from "./llama.ts";

export interface TinyLlamaOptions {
  dim?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  ffnDim?: number;
  /** Whole-word pieces after the byte tokens. */
  words?: readonly string[];
  /** Separate output matrix (default) or tied to the token embedding. */
  tiedOutput?: boolean;
  /** Standard deviation of the random weights (norm weights are 1 + noise). */
  std?: number;
  weightType?: "f32" | "f16";
  seed?: number;
}

const DEFAULT_WORDS = ["the", "a", "movie", "user", "watched", "next", "item", "(", ")", "A", "B", "C", "D", "Answer", ":", "\n"];

/** Writes the model to `path` and returns its decoder shape (as `llamaConfigFromGguf` reads it back). */
export function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): LlamaConfig {
  const dim = options.dim ?? 32;
  const heads = options.heads ?? 4;
  const kvHeads = options.kvHeads ?? 2;
  const headDim = dim / heads;
  const ffnDim = options.ffnDim ?? 64;
  const layers = options.layers ?? 2;
  const tiedOutput = options.tiedOutput ?? false;
  const std = options.std ?? 0.2;
  const type = options.weightType ?? "f32";
  const rng = new Rng(options.seed ?? 1);

  const tokens = ["<unk>", "<s>", "</s>"];
  const kinds = [2, 3, 3]; // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    kinds.push(6);
  }
  // SentencePiece (llama.cpp's SPM tokenizer) builds a word by merging adjacent pieces that are in the vocabulary,
  // so every character and every prefix of "▁word" must be one too for the whole word to come out as one token.
  const seen = new Set(tokens);
  const piece = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    tokens.push(p);
    kinds.push(1);
  };
  for (const w of options.words ?? DEFAULT_WORDS) {
    const chars = [...`▁${w}`];
    for (const c of chars) piece(c);
    for (let k = 2; k <= chars.length; k++) piece(chars.slice(0, k).join(""));
  }
  const vocabSize = tokens.length;
  // Longer pieces score higher, so merges prefer them (SentencePiece picks the best-scoring adjacent pair).
  const scores = tokens.map((t, i) => (kinds[i] === 1 ? [...t].length : 0));

  const tensors: GgufTensorData[] = [];
  const add = (name: string, shape: number[], norm = false) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (norm ? 1 : 0) + rng.normal() * (norm ? 0.1 : std);
    tensors.push({ name, shape, data, type: norm ? "f32" : type });
  };
  add("token_embd.weight", [vocabSize, dim]);
  for (let i = 0; i < layers; i++) {
    add(`blk.${i}.attn_norm.weight`, [dim], true);
    add(`blk.${i}.attn_q.weight`, [heads * headDim, dim]);
    add(`blk.${i}.attn_k.weight`, [kvHeads * headDim, dim]);
    add(`blk.${i}.attn_v.weight`, [kvHeads * headDim, dim]);
    add(`blk.${i}.attn_output.weight`, [dim, heads * headDim]);
    add(`blk.${i}.ffn_norm.weight`, [dim], true);
    add(`blk.${i}.ffn_gate.weight`, [ffnDim, dim]);
    add(`blk.${i}.ffn_up.weight`, [ffnDim, dim]);
    add(`blk.${i}.ffn_down.weight`, [dim, ffnDim]);
  }
  add("output_norm.weight", [dim], true);
  if (!tiedOutput) add("output.weight", [vocabSize, dim]);

  const config: LlamaConfig = { vocabSize, dim, layers, heads, kvHeads, headDim, ffnDim, rmsEps: 1e-5, ropeBase: 10000, ropeDims: headDim, tiedOutput };
  const metadata: Record<string, GgufValue> = {
    "general.architecture": gguf.str("llama"),
    "general.name": gguf.str("reclm tiny random llama"),
    "llama.context_length": gguf.u32(512),
    "llama.embedding_length": gguf.u32(dim),
    "llama.block_count": gguf.u32(layers),
    "llama.feed_forward_length": gguf.u32(ffnDim),
    "llama.attention.head_count": gguf.u32(heads),
    "llama.attention.head_count_kv": gguf.u32(kvHeads),
    "llama.attention.layer_norm_rms_epsilon": gguf.f32(config.rmsEps),
    "llama.rope.dimension_count": gguf.u32(headDim),
    "llama.rope.freq_base": gguf.f32(config.ropeBase),
    "llama.vocab_size": gguf.u32(vocabSize),
    "tokenizer.ggml.model": gguf.str("llama"),
    "tokenizer.ggml.tokens": gguf.strings(tokens),
    "tokenizer.ggml.scores": gguf.f32s(scores),
    "tokenizer.ggml.token_type": gguf.i32s(kinds),
    "tokenizer.ggml.unknown_token_id": gguf.u32(0),
    "tokenizer.ggml.bos_token_id": gguf.u32(1),
    "tokenizer.ggml.eos_token_id": gguf.u32(2),
    "tokenizer.ggml.add_bos_token": gguf.bool(true),
  };
  writeGguf(path, metadata, tensors);
  return config;
}
