import { describe, expect, it } from "vitest";
import { embeddedCatalog } from "../../../src/data/embedded/index.ts";
import { isReclmError } from "../../../src/errors.ts";
import { gpt2ByteSymbols } from "../../../src/llm/tiny-llama.ts";
import { ByteLevelBpe, checkBpeVocab, preTokenize, trainByteLevelBpe, type BpeTrainOptions, type BpeVocab } from "../../../src/llm/tokenizer/index.ts";

const repeat = (word: string, times: number) => Array.from({ length: times }, () => word);

/** The HF course's BPE example: each text is one word. */
const HUGS = [...repeat("hug", 10), ...repeat("pug", 5), ...repeat("pun", 12), ...repeat("bun", 4), ...repeat("hugs", 5)];

/**
 * Textbook BPE, recounting every pair of every word before each merge: the reference the incremental trainer must
 * agree with merge for merge (same counts, same tie rule: the smaller left id, then the smaller right id).
 */
function referenceMerges(texts: readonly string[], merges: number, minPairCount: number): string[] {
  const symbols = gpt2ByteSymbols();
  const tokens = [...symbols];
  const freq = new Map<string, number>();
  for (const t of texts) for (const w of preTokenize(t)) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq].map(([w, f]) => ({ ids: [...new TextEncoder().encode(w)], f }));
  const out: string[] = [];
  while (out.length < merges) {
    const counts = new Map<string, number>();
    for (const { ids, f } of words) for (let i = 0; i + 1 < ids.length; i++) counts.set(`${ids[i]},${ids[i + 1]}`, (counts.get(`${ids[i]},${ids[i + 1]}`) ?? 0) + f);
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(",").map(Number);
      if (c > bestCount || (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) [best, bestCount] = [[a, b], c];
    }
    if (!best || bestCount < minPairCount) break;
    const [a, b] = best;
    const merged = tokens[a] + tokens[b];
    let id = tokens.indexOf(merged);
    if (id < 0) id = tokens.push(merged) - 1;
    out.push(`${tokens[a]} ${tokens[b]}`);
    for (const w of words) {
      const next: number[] = [];
      for (let i = 0; i < w.ids.length; ) {
        if (i + 1 < w.ids.length && w.ids[i] === a && w.ids[i + 1] === b) {
          next.push(id);
          i += 2;
        } else next.push(w.ids[i++]);
      }
      w.ids = next;
    }
  }
  return out;
}

function expectBadOption(options: Partial<BpeTrainOptions>, field: string): void {
  try {
    trainByteLevelBpe(["hello"], { vocabSize: 300, ...options } as BpeTrainOptions);
  } catch (e) {
    expect(isReclmError(e) && e.code === "RECLM_ERR_BAD_CONFIG" && e.location.field === field, String(e)).toBe(true);
    expect(String(e)).toContain(field);
    return;
  }
  throw new Error(`options ${JSON.stringify(options)} were accepted`);
}

describe("trainByteLevelBpe", () => {
  it("learns the merges of the worked example in order (most frequent first; a tie goes to the smaller left id)", () => {
    const v = trainByteLevelBpe(HUGS, { vocabSize: 1000 });
    // Counts: u g 20; then u n 16; h ug 15; p un 12; then p ug 5 and hug s 5 tie: "p" is byte 0x70, "hug" token 258.
    expect(v.merges).toEqual(["u g", "u n", "h ug", "p un", "p ug", "hug s", "b un"]);
    expect(v.tokens.slice(256, 263)).toEqual(["ug", "un", "hug", "pun", "pug", "hugs", "bun"]);
    // No pair is left, so the vocabulary stops short of 1000: 256 bytes + 7 merges + bos, eos, pad.
    expect(v.tokens.length).toBe(266);
    expect(v.tokens.slice(263)).toEqual(["<|bos|>", "<|eos|>", "<|pad|>"]);
    expect(v.tokenTypes.slice(262)).toEqual([1, 3, 3, 3]);
    expect([v.bos, v.eos, v.pad]).toEqual([263, 264, 265]);
    expect(new ByteLevelBpe(v).encode("hugs pun bug")).toEqual([261, 32, 259, 32, 98, 256]);
  });

  it("minPairCount stops before rarer pairs; vocabSize caps the vocabulary, control tokens included", () => {
    expect(trainByteLevelBpe(HUGS, { vocabSize: 1000, minPairCount: 6 }).merges).toEqual(["u g", "u n", "h ug", "p un"]);
    const capped = trainByteLevelBpe(HUGS, { vocabSize: 256 + 3 + 2 });
    expect(capped.tokens.length).toBe(261);
    expect(capped.merges).toEqual(["u g", "u n"]);
    const corpus = embeddedCatalog().items.map((it) => it.title);
    for (const size of [300, 650]) expect(trainByteLevelBpe(corpus, { vocabSize: size }).tokens.length).toBe(size);
  });

  it("agrees merge for merge with textbook BPE recounting every pair (embedded titles; runs like 'aaaa', 'abab')", () => {
    const titles = embeddedCatalog().items.slice(1).map((it) => it.title);
    const tricky = ["aaaa", "aaa", "aaaaa", "abab", "ababab", "abababa", "aab", "baa", "a a a", "aaaa aaaa"].flatMap((w) => repeat(w, 3));
    for (const texts of [titles, tricky, [...tricky, ...titles.slice(0, 100)]]) {
      const v = trainByteLevelBpe(texts, { vocabSize: 256 + 3 + 400, minPairCount: 2 });
      expect(v.merges).toEqual(referenceMerges(texts, 400, 2));
    }
  });

  it("is deterministic: the same texts give the same vocabulary, and so does any order of them", () => {
    const titles = embeddedCatalog().items.slice(1).map((it) => it.title);
    const a = trainByteLevelBpe(titles, { vocabSize: 800 });
    expect(trainByteLevelBpe(titles, { vocabSize: 800 })).toEqual(a);
    expect(trainByteLevelBpe([...titles].reverse(), { vocabSize: 800 })).toEqual(a);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it("never merges into a control token's text, and encodes that text as plain text", () => {
    // "<|>" is one pre-token (a punctuation run), so without the guard "<|" + ">" would become it.
    const v = trainByteLevelBpe(repeat("<|> x <|>", 50), { vocabSize: 400, specialTokens: ["<|>"] });
    const id = v.tokens.indexOf("<|>");
    expect(v.tokenTypes[id]).toBe(3);
    expect(v.tokens.filter((t) => t === "<|>")).toHaveLength(1);
    expect(v.merges).not.toContain("<| >");
    const bpe = new ByteLevelBpe(v);
    expect(bpe.encode("<|>")).not.toContain(id);
    expect(bpe.decode(bpe.encode("<|>"))).toBe("<|>");
  });

  it("bad options are ReclmErrors naming the field", () => {
    expectBadOption({ vocabSize: 100 }, "vocabSize");
    expectBadOption({ vocabSize: 300.5 }, "vocabSize");
    expectBadOption({ vocabSize: 2 ** 22 }, "vocabSize");
    expectBadOption({ minPairCount: 0 }, "minPairCount");
    expectBadOption({ specialTokens: ["<|sep|>", "<|sep|>"] }, "specialTokens");
    expectBadOption({ specialTokens: [""] }, "specialTokens");
    expectBadOption({ specialTokens: ["a"] }, "specialTokens");
    expectBadOption({ eosToken: "<|bos|>" }, "eosToken");
    expectBadOption({ addBos: "yes" as never }, "addBos");
    expect(() => trainByteLevelBpe([42 as never], { vocabSize: 300 })).toThrow(/text 0 is not a string/);
  });

  it("reports progress and stops when aborted", () => {
    const titles = embeddedCatalog().items.slice(1).map((it) => it.title);
    const seen: number[] = [];
    trainByteLevelBpe(titles, { vocabSize: 650, onProgress: (p) => seen.push(p.done) });
    expect(seen.at(-1)).toBe(650);
    expect(seen.length).toBeGreaterThan(1);
    const abort = new AbortController();
    abort.abort();
    expect(() => trainByteLevelBpe(titles, { vocabSize: 900, signal: abort.signal })).toThrow();
  });
});

describe("ByteLevelBpe", () => {
  const vocab = trainByteLevelBpe(embeddedCatalog().items.slice(1).map((it) => it.title), { vocabSize: 600 });

  it("decode(encode(s)) === s; a JSON round trip of the vocabulary tokenizes the same", () => {
    const bpe = new ByteLevelBpe(vocab);
    const again = new ByteLevelBpe(JSON.parse(JSON.stringify(vocab)) as BpeVocab);
    for (const s of ["The Quiet Mirror Part III (2003)", "  x\n\ty ", "😀 é 日本", ""]) {
      expect(bpe.decode(bpe.encode(s))).toBe(s);
      expect(again.encode(s)).toEqual(bpe.encode(s));
    }
    expect(bpe.tokenize("Mirror")).toEqual(bpe.encode("Mirror"));
    expect(bpe.detokenize(bpe.encode("Mirror"))).toBe("Mirror");
    expect(bpe.vocabSize).toBe(600);
  });

  it("encodes a 100k-character word (heap-driven merging, not quadratic)", () => {
    const bpe = new ByteLevelBpe(vocab);
    const long = "e".repeat(100_000);
    const t = performance.now();
    expect(bpe.decode(bpe.encode(long))).toBe(long);
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it("refuses inconsistent vocabularies and out-of-range ids with ReclmErrors naming the field", () => {
    const broken = (patch: Partial<BpeVocab>, field: string) => {
      const v = { ...structuredClone(vocab), ...patch };
      expect(() => checkBpeVocab(v, "vocab.json")).toThrow(new RegExp(`vocab.json, field "${field}"`));
    };
    broken({ pre: "gpt-2" }, "pre");
    broken({ tokenTypes: vocab.tokenTypes.slice(1) }, "tokenTypes");
    broken({ tokens: ["x", ...vocab.tokens.slice(1)] }, "tokens");
    broken({ tokens: [...vocab.tokens.slice(0, -1), vocab.tokens[300]] }, "tokens");
    broken({ merges: [...vocab.merges, "Ġ zz"] }, "merges");
    broken({ merges: [...vocab.merges, vocab.merges[0]] }, "merges");
    broken({ bos: 65 }, "bos");
    broken({ eos: vocab.tokens.length }, "eos");
    broken({ addBos: undefined as never }, "addBos");
    const bpe = new ByteLevelBpe(vocab);
    expect(() => bpe.decode([vocab.tokens.length])).toThrow(/field "tokens"/);
    expect(() => bpe.decode([1.5])).toThrow(/field "tokens"/);
    expect(() => bpe.encode(undefined as never)).toThrow(/field "text"/);
  });
});
