/**
 * Tiny llama-family (llama, qwen2, qwen3) GGUF models with random weights and a small vocabulary, written by reclm itself: tests
 * exercise real GGUF loading (reclm's reader and llama.cpp's), the decoder forward and LoRA on a fresh machine, without
 * downloaded weights. Two tokenizer kinds, as real models ship them:
 * - "spm" (Llama 1/2, SentencePiece): control tokens, the 256 byte tokens <0x00>..<0xFF> (so any text tokenizes) and
 *   `words` as "▁word" pieces with the pieces SentencePiece merges them from;
 * - "bpe" (SmolLM, Llama 3, Qwen: GPT-2 byte-level BPE): the 256 byte symbols, `words` with and without a leading
 *   space ("Ġword", "word") and the merges that build them, and two control tokens.
 */
import { ReclmError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { writeLlamaFamilyGguf, type WeightTypeChoice } from "./gguf-model.ts";
import { gguf, type GgufValue } from "./gguf-writer.ts";
import { llamaTensorShapes, type LlamaArchitecture, type LlamaConfig, type LlamaProjection } from "./llama.ts";

export interface TinyLlamaOptions {
  /** "llama" (default: NORM rope), "qwen2" (NEOX rope, q/k/v biases) or "qwen3" (NEOX rope, per-head q/k RMSNorm). */
  architecture?: LlamaArchitecture;
  dim?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Head size; default dim / heads. Any other value writes the key_length/value_length keys. */
  headDim?: number;
  ffnDim?: number;
  /** Whole-word pieces after the byte tokens. */
  words?: readonly string[];
  /** Separate output matrix (default) or tied to the token embedding. */
  tiedOutput?: boolean;
  /** Standard deviation of the random weights and biases (norm weights are 1 + noise). */
  std?: number;
  /**
   * Standard deviation of output.weight alone (default std). A large one peaks the next-token distributions while
   * attention stays smooth: large weights everywhere make attention near-argmax, where rounding noise of one batch
   * shape against another flips which key a query reads.
   */
  outputStd?: number;
  /** Stored type of the matrices (norms, biases stay F32): "f32" (default), "f16", or a quantized one (rows of dim values). */
  weightType?: WeightTypeChoice;
  /** "spm" (default) or "bpe". */
  tokenizer?: "spm" | "bpe";
  /** Projections with a bias; default q, k, v for qwen2 (which requires them), none for llama. */
  biases?: readonly LlamaProjection[];
  /** Llama 3.x per-frequency rope divisors (headDim/2 of them), written as rope_freqs.weight (llama only). */
  ropeFreqs?: readonly number[];
  /** Linear rope scaling factor (rope.scaling.type "linear"); default none. */
  ropeScalingFactor?: number;
  /** rope.freq_base; default 10000. */
  ropeBase?: number;
  /**
   * Pad the vocabulary with unused tokens up to this size, for a model with a real model's shape (SmolLM2's 49,152):
   * the padding is never produced by tokenizing text, but the embedding and output rows are there.
   */
  vocabSize?: number;
  /** {arch}.context_length (default 512). */
  contextLength?: number;
  /** A ready vocabulary (e.g. a trained BPE's tokens and bpeGgufMetadata) in place of the built-in one; `words` and
   * `tokenizer` are then unused. */
  vocab?: TinyVocab;
  seed?: number;
}

/** A vocabulary and the GGUF tokenizer metadata that describes it. */
export interface TinyVocab {
  tokens: readonly string[];
  metadata: Record<string, GgufValue>;
}

const DEFAULT_WORDS = ["the", "a", "movie", "user", "watched", "next", "item", "(", ")", "A", "B", "C", "D", "Answer", ":", "\n"];

/** Writes the model to `path` and returns its decoder shape (as `llamaConfigFromGguf` reads it back). */
export function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): LlamaConfig {
  const architecture = options.architecture ?? "llama";
  const dim = options.dim ?? 32;
  const heads = options.heads ?? 4;
  const headDim = options.headDim ?? dim / heads;
  const std = options.std ?? 0.2;
  const rng = new Rng(options.seed ?? 1);
  const words = options.words ?? DEFAULT_WORDS;
  const built = options.vocab ?? ((options.tokenizer ?? "spm") === "bpe" ? bpeVocab(words) : spmVocab(words));
  const vocab = options.vocabSize === undefined ? built : padVocab(built, options.vocabSize);

  // The values llamaConfigFromGguf reads back: GGUF stores these floats as f32.
  const config: LlamaConfig = {
    architecture,
    vocabSize: vocab.tokens.length,
    dim,
    layers: options.layers ?? 2,
    heads,
    kvHeads: options.kvHeads ?? 2,
    headDim,
    ffnDim: options.ffnDim ?? 64,
    rmsEps: Math.fround(1e-5),
    ropeBase: Math.fround(options.ropeBase ?? 10000),
    ropeDims: headDim,
    ropeMode: architecture === "llama" ? "normal" : "neox",
    freqScale: options.ropeScalingFactor === undefined ? 1 : 1 / Math.fround(options.ropeScalingFactor),
    ropeFreqs: options.ropeFreqs !== undefined,
    biases: options.biases ?? (architecture === "qwen2" ? ["q", "k", "v"] : []),
    tiedOutput: options.tiedOutput ?? false,
    ...(architecture === "qwen3" ? { qkNorm: true } : {}),
  };
  const tensors = new Map<string, Float32Array>();
  for (const [name, shape] of llamaTensorShapes(config)) {
    if (name === "rope_freqs.weight") {
      tensors.set(name, Float32Array.from(options.ropeFreqs!));
      continue;
    }
    const norm = name.endsWith("norm.weight");
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const sd = norm ? 0.1 : name === "output.weight" ? (options.outputStd ?? std) : std;
    for (let i = 0; i < n; i++) data[i] = (norm ? 1 : 0) + rng.normal() * sd;
    tensors.set(name, data);
  }
  writeLlamaFamilyGguf(path, config, tensors, vocab.metadata, options.weightType ?? "f32", { name: `reclm tiny random ${architecture}`, contextLength: options.contextLength ?? 512 });
  return config;
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

/** The vocabulary with unused tokens ("<|unused_N|>", llama.cpp token type 5) appended until it has `size` tokens. */
function padVocab(vocab: TinyVocab, size: number): TinyVocab {
  const have = vocab.tokens.length;
  if (!Number.isInteger(size) || size < have) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `vocabSize ${size} is smaller than the ${have} tokens the tokenizer needs`, { field: "vocabSize" });
  }
  const kinds = vocab.metadata["tokenizer.ggml.token_type"];
  if (kinds?.type !== "array") throw new ReclmError("RECLM_ERR_INTERNAL", "tiny vocabulary without token types");
  const tokens = [...vocab.tokens, ...Array.from({ length: size - have }, (_, i) => `<|unused_${have + i}|>`)];
  const metadata = { ...vocab.metadata };
  metadata["tokenizer.ggml.tokens"] = gguf.strings(tokens);
  metadata["tokenizer.ggml.token_type"] = gguf.i32s([...Array.from(kinds.value as ArrayLike<number>), ...new Array<number>(size - have).fill(5)]);
  const scores = vocab.metadata["tokenizer.ggml.scores"];
  if (scores?.type === "array") metadata["tokenizer.ggml.scores"] = gguf.f32s([...Array.from(scores.value as ArrayLike<number>), ...new Array<number>(size - have).fill(0)]);
  return { tokens, metadata };
}
