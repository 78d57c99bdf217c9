/**
 * reclm's byte-level BPE tokenizer (GPT-2 kind): the vocabulary format `trainByteLevelBpe` produces and the encoder
 * that tokenizes exactly as llama.cpp does for the GGUF `bpeGgufMetadata` describes (test/llm/tokenizer/ checks it
 * token for token against node-llama-cpp).
 *
 * Tokens 0..255 are GPT-2's byte symbols (byte b is token b), then one token per learned merge, then the control
 * tokens. Normal tokens are stored as byte-symbol strings (a space is "Ġ"), as GGUF and tokenizer.json store them;
 * control tokens as their plain text.
 */
import { ReclmError } from "../../errors.ts";
import { gpt2ByteSymbols } from "../tiny-llama.ts";
import { codePoints, gpt2WordEnds, utf8Bytes } from "./pretokenize.ts";

/**
 * The `tokenizer.ggml.pre` reclm writes: it selects GPT-2's pre-tokenizer regex in llama.cpp (pretokenize.ts) with
 * clean_spaces off. "gpt-2" selects the same regex but turns clean_spaces on, and llama.cpp's detokenizer then drops
 * the space in " ." / " ," / " 's" ...: decode(encode(s)) would no longer give s back.
 */
export const BPE_PRE_TOKENIZER = "trillion";

/** llama.cpp token types (tokenizer.ggml.token_type). */
export const TOKEN_NORMAL = 1;
export const TOKEN_CONTROL = 3;

/** A trained byte-level BPE vocabulary; plain JSON. */
export interface BpeVocab {
  /** Byte-symbol strings for normal tokens, plain text for control tokens. */
  tokens: string[];
  /** "left right" in rank order (the first merge is applied first). */
  merges: string[];
  /** TOKEN_NORMAL or TOKEN_CONTROL per token. */
  tokenTypes: number[];
  bos: number;
  eos: number;
  pad?: number;
  /** Always BPE_PRE_TOKENIZER: the only pre-tokenizer reclm reproduces. */
  pre: string;
  /** Whether a model using this vocabulary expects BOS before every text (tokenizer.ggml.add_bos_token). */
  addBos: boolean;
}

/** Merge ranks are looked up by (left, right) packed into one number: ids stay below 2^21. */
export const PAIR_BASE = 2 ** 21;

const CACHE_LIMIT = 1 << 17;
// A leading U+FEFF is text like any other (llama.cpp keeps it): TextDecoder would drop it as a byte-order mark.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** The encoder/decoder for one vocabulary. Satisfies prompt.ts `PromptTokenizer`. */
export class ByteLevelBpe {
  readonly vocab: BpeVocab;
  readonly vocabSize: number;
  /** BOS when the vocabulary asks for it before every text (addBos), else null (PromptTokenizer's contract). */
  readonly bos: number | null;
  readonly bosId: number;
  readonly eos: number;
  readonly pad: number | null;
  private readonly ranks = new Map<number, number>();
  private readonly mergeResult: Int32Array;
  private readonly tokenBytes: Uint8Array[];
  private readonly tokenText: string[];
  private readonly cache = new Map<string, readonly number[]>();

  constructor(vocab: BpeVocab, source?: string) {
    checkBpeVocab(vocab, source);
    this.vocab = vocab;
    this.vocabSize = vocab.tokens.length;
    this.bosId = vocab.bos;
    this.bos = vocab.addBos ? vocab.bos : null;
    this.eos = vocab.eos;
    this.pad = vocab.pad ?? null;
    const byteOf = symbolBytes();
    const encoder = new TextEncoder();
    this.tokenText = vocab.tokens;
    this.tokenBytes = vocab.tokens.map((t, i) =>
      vocab.tokenTypes[i] === TOKEN_CONTROL ? encoder.encode(t) : Uint8Array.from(t, (ch) => byteOf.get(ch)!),
    );
    const id = new Map<string, number>();
    vocab.tokens.forEach((t, i) => {
      if (vocab.tokenTypes[i] === TOKEN_NORMAL) id.set(t, i);
    });
    this.mergeResult = new Int32Array(vocab.merges.length);
    vocab.merges.forEach((m, rank) => {
      const [left, right] = splitMerge(m);
      this.ranks.set(id.get(left)! * PAIR_BASE + id.get(right)!, rank);
      this.mergeResult[rank] = id.get(left + right)!;
    });
  }

  /** Token ids of `text`: no BOS/EOS, control-token text encoded as plain text (llama.cpp's tokenize(text, false)). */
  encode(text: string): number[] {
    if (typeof text !== "string") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `text to encode is ${typeof text}, not a string`, { field: "text" });
    const out: number[] = [];
    const cp = codePoints(text);
    let start = 0;
    for (const end of gpt2WordEnds(cp)) {
      const word = text.slice(cp.at[start], cp.at[end]);
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.mergeWord(utf8Bytes(cp.cps, start, end));
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const t of ids) out.push(t);
      start = end;
    }
    return out;
  }

  /**
   * The text of `ids`. Control tokens give "" (llama.cpp's detokenize(tokens, false)) unless `special` is set; bytes
   * that do not form valid UTF-8 (a cut multi-byte character) become U+FFFD.
   */
  decode(ids: readonly number[], options: { special?: boolean } = {}): string {
    const parts: Uint8Array[] = [];
    let size = 0;
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) {
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `token id ${t} is outside the vocabulary (0..${this.vocabSize - 1})`, { field: "tokens" });
      }
      if (this.vocab.tokenTypes[t] === TOKEN_CONTROL && !options.special) continue;
      parts.push(this.tokenBytes[t]);
      size += this.tokenBytes[t].length;
    }
    const bytes = new Uint8Array(size);
    let k = 0;
    for (const p of parts) {
      bytes.set(p, k);
      k += p.length;
    }
    return utf8Decoder.decode(bytes);
  }

  tokenize(text: string): number[] {
    return this.encode(text);
  }

  detokenize(tokens: readonly number[]): string {
    return this.decode(tokens);
  }

  /** The stored string of token `id` (byte symbols for normal tokens). */
  tokenString(id: number): string {
    return this.tokenText[id];
  }

  /**
   * llama.cpp's BPE over one word (llm_tokenizer_bpe_session): start from its bytes and repeatedly merge the adjacent
   * pair of lowest rank, the leftmost one among equals, until no adjacent pair has a merge.
   */
  private mergeWord(bytes: Uint8Array): number[] {
    const n = bytes.length;
    if (n < 2) return Array.from(bytes);
    const id = Int32Array.from(bytes);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Heap of rank * n + left: the smallest key is the lowest rank, then the leftmost position.
    const heap = new MinHeap();
    const rankAt = (i: number): number | undefined => {
      const j = next[i];
      return j < 0 ? undefined : this.ranks.get(id[i] * PAIR_BASE + id[j]);
    };
    const push = (i: number) => {
      const r = rankAt(i);
      if (r !== undefined) heap.push(r * n + i);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / n);
      const i = key - rank * n;
      // Stale entry: the pair at i changed since it was pushed (a merge of the same rank is the same pair).
      if (id[i] < 0 || rankAt(i) !== rank) continue;
      const j = next[i];
      id[i] = this.mergeResult[rank];
      id[j] = -1;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) push(prev[i]);
      push(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }
}

/** A binary min-heap of numbers. */
export class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const a = this.items;
    let i = a.length;
    a.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= x) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

/** Byte symbol -> byte value. */
export function symbolBytes(): Map<string, number> {
  return new Map(gpt2ByteSymbols().map((s, b) => [s, b]));
}

/** "left right" -> [left, right]; byte symbols hold no space, so the one space separates them (llama.cpp splits so). */
function splitMerge(merge: string): [string, string] {
  const at = merge.indexOf(" ", 1);
  return [merge.slice(0, at), merge.slice(at + 1)];
}

/** Throws a ReclmError naming the field unless `v` is a consistent BpeVocab (e.g. one read back from JSON). */
export function checkBpeVocab(v: BpeVocab, source?: string): void {
  const bad = (field: string, message: string): never => {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `BPE vocabulary: ${message}`, { file: source, field });
  };
  if (typeof v !== "object" || v === null) bad("vocab", "not an object");
  if (!Array.isArray(v.tokens) || !v.tokens.every((t) => typeof t === "string" && t.length > 0)) bad("tokens", "must be an array of non-empty strings");
  if (!Array.isArray(v.tokenTypes) || v.tokenTypes.length !== v.tokens.length) bad("tokenTypes", `must hold one type per token (${v.tokens.length})`);
  if (!Array.isArray(v.merges) || !v.merges.every((m) => typeof m === "string")) bad("merges", "must be an array of strings");
  if (v.pre !== BPE_PRE_TOKENIZER) bad("pre", `must be "${BPE_PRE_TOKENIZER}" (the pre-tokenizer reclm reproduces), not ${JSON.stringify(v.pre)}`);
  if (typeof v.addBos !== "boolean") bad("addBos", "must be true or false");
  if (v.tokens.length >= PAIR_BASE) bad("tokens", `at most ${PAIR_BASE - 1} tokens`);
  const symbols = gpt2ByteSymbols();
  const byteOf = symbolBytes();
  for (let b = 0; b < 256; b++) if (v.tokens[b] !== symbols[b] || v.tokenTypes[b] !== TOKEN_NORMAL) bad("tokens", `token ${b} must be the normal byte symbol ${JSON.stringify(symbols[b])}`);
  const ids = new Map<string, number>();
  v.tokens.forEach((t, i) => {
    const type = v.tokenTypes[i];
    if (type !== TOKEN_NORMAL && type !== TOKEN_CONTROL) bad("tokenTypes", `token ${i}: type ${type} is neither normal (1) nor control (3)`);
    if (ids.has(t)) bad("tokens", `token ${i} ${JSON.stringify(t)} repeats token ${ids.get(t)}`);
    ids.set(t, i);
    if (type === TOKEN_NORMAL && ![...t].every((ch) => byteOf.has(ch))) bad("tokens", `normal token ${i} ${JSON.stringify(t)} is not made of byte symbols`);
  });
  const normal = (t: string) => ids.has(t) && v.tokenTypes[ids.get(t)!] === TOKEN_NORMAL;
  const seen = new Set<string>();
  v.merges.forEach((m, rank) => {
    const at = m.indexOf(" ", 1);
    const [left, right] = at < 0 ? ["", ""] : splitMerge(m);
    if (!normal(left) || !normal(right) || !normal(left + right)) bad("merges", `merge ${rank} ${JSON.stringify(m)}: its two parts and their concatenation must be normal tokens`);
    if (seen.has(m)) bad("merges", `merge ${rank} ${JSON.stringify(m)} is given twice`);
    seen.add(m);
  });
  const control = (field: "bos" | "eos" | "pad") => {
    const id = v[field];
    if (!Number.isInteger(id) || id! < 0 || id! >= v.tokens.length || v.tokenTypes[id!] !== TOKEN_CONTROL) bad(field, `${id} is not the id of a control token`);
  };
  control("bos");
  control("eos");
  if (v.pad !== undefined) control("pad");
}
