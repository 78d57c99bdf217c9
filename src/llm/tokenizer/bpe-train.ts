/**
 * Training a GPT-2 byte-level BPE vocabulary from a dataset's text (the algorithm of HF tokenizers' BpeTrainer):
 * pre-tokenize every text as llama.cpp will (pretokenize.ts), count each distinct word once with its frequency, count
 * adjacent symbol pairs weighted by word frequency, then repeatedly merge the most frequent pair. Pair counts are
 * updated only in the words that hold the merged pair, and the next pair comes from a max-heap with lazily refreshed
 * counts, so a merge costs the words it touches, not the corpus.
 *
 * Deterministic: the most frequent pair wins, ties go to the smaller (left id, right id), and ids are assigned in
 * merge order, so the vocabulary depends only on the word counts, never on Map/Set iteration order.
 */
import type { Progress } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { gpt2ByteSymbols } from "../tiny-llama.ts";
import { BPE_PRE_TOKENIZER, PAIR_BASE, TOKEN_CONTROL, TOKEN_NORMAL, type BpeVocab } from "./bpe.ts";
import { codePoints, gpt2WordEnds, utf8Bytes } from "./pretokenize.ts";

export const DEFAULT_BOS = "<|bos|>";
export const DEFAULT_EOS = "<|eos|>";
export const DEFAULT_PAD = "<|pad|>";

export interface BpeTrainOptions {
  /** Most tokens in the vocabulary: 256 bytes + merges + control tokens. Fewer when no pair is frequent enough. */
  vocabSize: number;
  /** A pair seen fewer times than this (over the whole corpus) is never merged. Default 2. */
  minPairCount?: number;
  /** Control tokens beyond BOS/EOS/PAD (e.g. separators), in id order after them. */
  specialTokens?: readonly string[];
  /** Default "<|bos|>", "<|eos|>", "<|pad|>"; pad null for none. */
  bosToken?: string;
  eosToken?: string;
  padToken?: string | null;
  /** Whether the model expects BOS before every text (written as tokenizer.ggml.add_bos_token). Default true. */
  addBos?: boolean;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

const PROGRESS_EVERY = 256;

export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeVocab {
  const { vocabSize, minPairCount = 2, addBos = true } = options;
  const bosToken = options.bosToken ?? DEFAULT_BOS;
  const eosToken = options.eosToken ?? DEFAULT_EOS;
  const padToken = options.padToken === undefined ? DEFAULT_PAD : options.padToken;
  const specials = [bosToken, eosToken, ...(padToken === null ? [] : [padToken]), ...(options.specialTokens ?? [])];
  checkOptions(options, specials, minPairCount, addBos);

  const symbols = gpt2ByteSymbols();
  const tokens = [...symbols];
  const tokenId = new Map(tokens.map((t, i) => [t, i]));
  const specialSet = new Set(specials);
  const merges: string[] = [];
  const maxNormal = vocabSize - specials.length;

  // Distinct words (as byte ids) and how often each occurs.
  const wordIndex = new Map<string, number>();
  const words: Int32Array[] = [];
  const lengths: number[] = [];
  const freq: number[] = [];
  let textCount = 0;
  for (const text of texts) {
    if (typeof text !== "string") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `text ${textCount} is not a string`, { field: "texts" });
    textCount++;
    const cp = codePoints(text);
    let start = 0;
    for (const end of gpt2WordEnds(cp)) {
      const word = text.slice(cp.at[start], cp.at[end]);
      const w = wordIndex.get(word);
      if (w === undefined) {
        wordIndex.set(word, words.length);
        const bytes = utf8Bytes(cp.cps, start, end);
        words.push(Int32Array.from(bytes));
        lengths.push(bytes.length);
        freq.push(1);
      } else freq[w]++;
      start = end;
    }
  }
  wordIndex.clear();

  // Pair counts, and for each pair the words that may hold it (appended when the pair appears in a word; a word can
  // be listed after it lost the pair, which the merge loop skips).
  const counts = new Map<number, number>();
  const where = new Map<number, number[]>();
  const listWord = (key: number, w: number) => {
    const list = where.get(key);
    if (!list) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < words.length; w++) {
    const s = words[w];
    for (let i = 0; i + 1 < lengths[w]; i++) {
      const key = s[i] * PAIR_BASE + s[i + 1];
      counts.set(key, (counts.get(key) ?? 0) + freq[w]);
      listWord(key, w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of counts) heap.push(c, key);

  const report = () =>
    options.onProgress?.({ stage: "bpe merges", done: tokens.length + specials.length, total: vocabSize, unit: "tokens", info: { merges: merges.length } });
  const visited = new Int32Array(words.length).fill(-1);
  while (tokens.length < maxNormal && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = counts.get(key) ?? 0;
    if (current !== count) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < minPairCount) break;
    const a = Math.floor(key / PAIR_BASE);
    const b = key - a * PAIR_BASE;
    const merged = tokens[a] + tokens[b];
    // A control token's text never becomes a normal token: llama.cpp looks tokens up by text.
    if (specialSet.has(merged)) continue;
    let id = tokenId.get(merged);
    if (id === undefined) {
      id = tokens.push(merged) - 1;
      tokenId.set(merged, id);
    }
    merges.push(`${tokens[a]} ${tokens[b]}`);

    // Merge (a, b) in place in every word that holds it, updating only the pairs around each occurrence: the left
    // neighbour is read from the merged output, the right one from the input, so back-to-back occurrences ("abab",
    // "aaa") cancel each other's intermediate pairs exactly.
    const delta = new Map<number, number>();
    const change = (pk: number, d: number) => delta.set(pk, (delta.get(pk) ?? 0) + d);
    const rank = merges.length - 1;
    for (const w of where.get(key)!) {
      if (visited[w] === rank) continue;
      visited[w] = rank;
      const s = words[w];
      const n = lengths[w];
      const f = freq[w];
      let m = 0;
      for (let i = 0; i < n; ) {
        if (i + 1 < n && s[i] === a && s[i + 1] === b) {
          if (m > 0) {
            change(s[m - 1] * PAIR_BASE + a, -f);
            change(s[m - 1] * PAIR_BASE + id, f);
            listWord(s[m - 1] * PAIR_BASE + id, w);
          }
          change(key, -f);
          if (i + 2 < n) {
            change(b * PAIR_BASE + s[i + 2], -f);
            change(id * PAIR_BASE + s[i + 2], f);
            listWord(id * PAIR_BASE + s[i + 2], w);
          }
          s[m++] = id;
          i += 2;
        } else s[m++] = s[i++];
      }
      lengths[w] = m;
    }
    where.delete(key);
    for (const [pk, d] of delta) {
      if (d === 0) continue;
      const c = (counts.get(pk) ?? 0) + d;
      if (c > 0) counts.set(pk, c);
      else {
        counts.delete(pk);
        where.delete(pk);
      }
      if (d > 0) heap.push(c, pk);
    }
    if (merges.length % PROGRESS_EVERY === 0) {
      options.signal?.throwIfAborted();
      report();
    }
  }

  const tokenTypes = tokens.map(() => TOKEN_NORMAL);
  const specialId = (t: string) => tokens.length + specials.indexOf(t);
  const vocab: BpeVocab = {
    tokens: [...tokens, ...specials],
    merges,
    tokenTypes: [...tokenTypes, ...specials.map(() => TOKEN_CONTROL)],
    bos: specialId(bosToken),
    eos: specialId(eosToken),
    ...(padToken === null ? {} : { pad: specialId(padToken) }),
    pre: BPE_PRE_TOKENIZER,
    addBos,
  };
  report();
  return vocab;
}

function checkOptions(options: BpeTrainOptions, specials: readonly string[], minPairCount: number, addBos: boolean): void {
  const bad = (field: string, message: string): never => {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", message, { field });
  };
  const { vocabSize } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length || vocabSize >= PAIR_BASE) {
    bad("vocabSize", `vocabSize must be an integer from ${256 + specials.length} (256 bytes + ${specials.length} control tokens) to ${PAIR_BASE - 1}, not ${vocabSize}`);
  }
  if (!Number.isInteger(minPairCount) || minPairCount < 1) bad("minPairCount", `minPairCount must be an integer >= 1, not ${minPairCount}`);
  if (typeof addBos !== "boolean") bad("addBos", "addBos must be true or false");
  const field = (t: string) =>
    t === options.bosToken ? "bosToken" : t === options.eosToken ? "eosToken" : t === options.padToken ? "padToken" : "specialTokens";
  const symbols = new Set(gpt2ByteSymbols());
  const seen = new Set<string>();
  for (const t of specials) {
    if (typeof t !== "string" || t.length === 0) bad(field(t), `a control token must be a non-empty string, not ${JSON.stringify(t)}`);
    if (seen.has(t)) bad(field(t), `control token ${JSON.stringify(t)} is given twice`);
    // A one-symbol control token would take the text of a byte token.
    if (symbols.has(t)) bad(field(t), `control token ${JSON.stringify(t)} is the text of a byte token`);
    seen.add(t);
  }
}

/** Max-heap of (count, pair key): the highest count first, then the smallest key (smaller left id, then right). */
class PairHeap {
  private readonly c: number[] = [];
  private readonly k: number[] = [];

  get size(): number {
    return this.c.length;
  }

  private before(c1: number, k1: number, c2: number, k2: number): boolean {
    return c1 > c2 || (c1 === c2 && k1 < k2);
  }

  push(count: number, key: number): void {
    const { c, k } = this;
    let i = c.length;
    c.push(count);
    k.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(count, key, c[p], k[p])) break;
      c[i] = c[p];
      k[i] = k[p];
      i = p;
    }
    c[i] = count;
    k[i] = key;
  }

  pop(): [number, number] {
    const { c, k } = this;
    const top: [number, number] = [c[0], k[0]];
    const lc = c.pop()!;
    const lk = k.pop()!;
    if (c.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= c.length) break;
        const r = l + 1;
        const m = r < c.length && this.before(c[r], k[r], c[l], k[l]) ? r : l;
        if (!this.before(c[m], k[m], lc, lk)) break;
        c[i] = c[m];
        k[i] = k[m];
        i = m;
      }
      c[i] = lc;
      k[i] = lk;
    }
    return top;
  }
}
