/**
 * Tiny llama-architecture GGUF models with random weights and a small vocabulary, written by reclm itself: tests
 * exercise real GGUF loading (reclm's reader and llama.cpp's), the decoder forward and LoRA on a fresh machine, without
 * downloaded weights. Two tokenizer kinds, as real models ship them:
 * - "spm" (Llama 1/2, SentencePiece): control tokens, the 256 byte tokens <0x00>..<0xFF> (so any text tokenizes) and
 *   `words` as "▁word" pieces with the pieces SentencePiece merges them from;
 * - "bpe" (SmolLM, Llama 3, Qwen: GPT-2 byte-level BPE): the 256 byte symbols, `words` with and without a leading
 *   space ("Ġword", "word") and the merges that build them, and two control tokens.
 */
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { gguf, writeGguf, type GgufTensorData, type GgufTensorType, type GgufValue } from "./gguf-writer.ts";
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
  /** Stored type of the matrices (norms stay F32): "f32" (default), "f16", or a quantized one (rows of dim values). */
  weightType?: GgufTensorType;
  /** "spm" (default) or "bpe". */
  tokenizer?: "spm" | "bpe";
  /**
   * Pad the vocabulary with unused tokens up to this size, for a model with a real model's shape (SmolLM2's 49,152):
   * the padding is never produced by tokenizing text, but the embedding and output rows are there.
   */
  vocabSize?: number;
  /** llama.context_length (default 512). */
  contextLength?: number;
  /** llama.rope.freq_base (default 10000). */
  ropeBase?: number;
  seed?: number;
}

/** A vocabulary and the GGUF tokenizer metadata that describes it. */
interface TinyVocab {
  tokens: string[];
  metadata: Record<string, GgufValue>;
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

  const words = options.words ?? DEFAULT_WORDS;
  const vocab = (options.tokenizer ?? "spm") === "bpe" ? bpeVocab(words) : spmVocab(words);
  if (options.vocabSize !== undefined) padVocab(vocab, options.vocabSize);
  const vocabSize = vocab.tokens.length;
  const ropeBase = options.ropeBase ?? 10000;

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

  const config: LlamaConfig = { vocabSize, dim, layers, heads, kvHeads, headDim, ffnDim, rmsEps: 1e-5, ropeBase, ropeDims: headDim, tiedOutput };
  const metadata: Record<string, GgufValue> = {
    "general.architecture": gguf.str("llama"),
    "general.name": gguf.str("reclm tiny random llama"),
    "llama.context_length": gguf.u32(options.contextLength ?? 512),
    "llama.embedding_length": gguf.u32(dim),
    "llama.block_count": gguf.u32(layers),
    "llama.feed_forward_length": gguf.u32(ffnDim),
    "llama.attention.head_count": gguf.u32(heads),
    "llama.attention.head_count_kv": gguf.u32(kvHeads),
    "llama.attention.layer_norm_rms_epsilon": gguf.f32(config.rmsEps),
    "llama.rope.dimension_count": gguf.u32(headDim),
    "llama.rope.freq_base": gguf.f32(config.ropeBase),
    "llama.vocab_size": gguf.u32(vocabSize),
    ...vocab.metadata,
  };
  writeGguf(path, metadata, tensors);
  return config;
}

/** Appends unused tokens ("<|unused_N|>", llama.cpp token type 5) until the vocabulary has `size` tokens. */
function padVocab(vocab: TinyVocab, size: number): void {
  const have = vocab.tokens.length;
  if (!Number.isInteger(size) || size < have) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `vocabSize ${size} is smaller than the ${have} tokens the tokenizer needs`, { field: "vocabSize" });
  }
  const kinds = vocab.metadata["tokenizer.ggml.token_type"];
  if (kinds.type !== "array") throw new ReclmError("RECLM_ERR_INTERNAL", "tiny vocabulary without token types");
  const types = Array.from(kinds.value as ArrayLike<number>);
  for (let i = have; i < size; i++) {
    vocab.tokens.push(`<|unused_${i}|>`);
    types.push(5);
  }
  vocab.metadata["tokenizer.ggml.tokens"] = gguf.strings(vocab.tokens);
  vocab.metadata["tokenizer.ggml.token_type"] = gguf.i32s(types);
  const scores = vocab.metadata["tokenizer.ggml.scores"];
  if (scores?.type === "array") vocab.metadata["tokenizer.ggml.scores"] = gguf.f32s([...Array.from(scores.value as ArrayLike<number>), ...new Array(size - have).fill(0)]);
}

/** SentencePiece (llama.cpp's SPM tokenizer): control tokens, byte fallback, "▁word" pieces with their prefixes. */
function spmVocab(words: readonly string[]): TinyVocab {
  const tokens = ["<unk>", "<s>", "</s>"];
  const kinds = [2, 3, 3]; // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    kinds.push(6);
  }
  // SentencePiece builds a word by merging adjacent pieces that are in the vocabulary, so every character and every
  // prefix of "▁word" must be one too for the whole word to come out as one token.
  const seen = new Set(tokens);
  const piece = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    tokens.push(p);
    kinds.push(1);
  };
  for (const w of words) {
    const chars = [...`▁${w}`];
    for (const c of chars) piece(c);
    for (let k = 2; k <= chars.length; k++) piece(chars.slice(0, k).join(""));
  }
  // Longer pieces score higher, so merges prefer them (SentencePiece picks the best-scoring adjacent pair).
  const scores = tokens.map((t, i) => (kinds[i] === 1 ? [...t].length : 0));
  return {
    tokens,
    metadata: {
      "tokenizer.ggml.model": gguf.str("llama"),
      "tokenizer.ggml.tokens": gguf.strings(tokens),
      "tokenizer.ggml.scores": gguf.f32s(scores),
      "tokenizer.ggml.token_type": gguf.i32s(kinds),
      "tokenizer.ggml.unknown_token_id": gguf.u32(0),
      "tokenizer.ggml.bos_token_id": gguf.u32(1),
      "tokenizer.ggml.eos_token_id": gguf.u32(2),
      "tokenizer.ggml.add_bos_token": gguf.bool(true),
    },
  };
}

/**
 * GPT-2's byte-to-symbol map: printable bytes stand for themselves, the others (controls, space, 0x7F-0xA0, 0xAD)
 * take the code points from U+0100 on, so a space is "Ġ" and a newline "Ċ".
 */
export function gpt2ByteSymbols(): string[] {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCodePoint(printable ? b : next++);
  }
  return out;
}

/** Byte-level BPE (llama.cpp's "gpt2" tokenizer): 256 byte symbols, each word and " word" built by merges. */
function bpeVocab(words: readonly string[]): TinyVocab {
  const symbols = gpt2ByteSymbols();
  const tokens = [...symbols];
  const kinds: number[] = tokens.map(() => 1);
  const merges: string[] = [];
  const seen = new Set(tokens);
  const merge = (left: string, right: string): string => {
    const merged = left + right;
    if (!seen.has(merged)) {
      seen.add(merged);
      tokens.push(merged);
      kinds.push(1);
      merges.push(`${left} ${right}`);
    }
    return merged;
  };
  // BPE applies the lowest-ranked merge first: every word is built left to right, and only after all of them joined
  // to the space before it ("Ġ" + word), so " word" comes out whole even when a shorter word is its prefix.
  const built = words.map((w) => {
    const parts = Array.from(new TextEncoder().encode(w), (b) => symbols[b]);
    return parts.slice(1).reduce(merge, parts[0]);
  });
  for (const word of built) merge(symbols[0x20], word);
  const bos = tokens.push("<|bos|>") - 1;
  const eos = tokens.push("<|eos|>") - 1;
  kinds.push(3, 3);
  return {
    tokens,
    metadata: {
      "tokenizer.ggml.model": gguf.str("gpt2"),
      "tokenizer.ggml.pre": gguf.str("default"),
      "tokenizer.ggml.tokens": gguf.strings(tokens),
      "tokenizer.ggml.token_type": gguf.i32s(kinds),
      "tokenizer.ggml.merges": gguf.strings(merges),
      "tokenizer.ggml.bos_token_id": gguf.u32(bos),
      "tokenizer.ggml.eos_token_id": gguf.u32(eos),
      "tokenizer.ggml.add_bos_token": gguf.bool(false),
    },
  };
}
