/**
 * reclm's BPE tokenizer against llama.cpp (node-llama-cpp's bundled build) on the same vocabulary, written into a GGUF
 * with bpeGgufMetadata: the same ids for every text, the same detokenized text.
 *
 * Every vocabulary here is trained with minPairCount 1 on the very texts it is checked on, so merges span every
 * adjacent pair of bytes inside a word: a word boundary placed differently from llama.cpp changes the ids (with
 * byte-only tokens a wrong split would go unseen).
 */
import fc from "fast-check";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedCatalog } from "../../../src/data/embedded/index.ts";
import { truncateToTokens as truncateTitle, type PromptTokenizer } from "../../../src/llm/prompt.ts";
import { ByteLevelBpe, trainByteLevelBpe, type BpeVocab } from "../../../src/llm/tokenizer/index.ts";
import { LLAMACPP_CLASS_RUNS, LLAMACPP_WHITESPACE } from "../../../src/llm/tokenizer/llamacpp-unicode.ts";
import { expectLlamaCppParity, llamaCppWithVocab } from "../../helpers/bpe-llamacpp.ts";

const HARD_CASES = [
  // empty and whitespace: runs, mixes, leading/trailing, the Unicode spaces llama.cpp counts as whitespace
  "", " ", "  ", "   x", "x   ", "\t", "\t\t x", "\n", "\n\n", "a\nb", "a\n\nb", " \n ", "\r\n", "line one\nline two\n",
  "  leading", "trailing  ", " both ", "a \t\n b", "\u00a0", "a\u00a0b", "\u3000x", "\u0085x", "x\u2028y", "a  \u00a0 b",
  // digits and numbers
  "0", "1995", "(1995)", "Toy Story (1995)", "12345678901234567890123", "3.14159", "1,000,000", "x1y22z333", "１２３", "½ ⅓ Ⅻ",
  // punctuation runs
  "!!!", "?!?!", "...", "--", "«»", "…", " !!", "a!!b", "(!)", "#1", "$5.99", "Adventure|Animation|Children|Comedy|Fantasy",
  // apostrophes: GPT-2's contractions are lower-case only
  "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "'s", "'", "''", "rock 'n' roll", "O'Brien's", "'re'", "x'",
  // accented Latin, CJK, emoji, combining marks (a mark is not a letter: llama.cpp splits "e" from U+0301)
  "café", "naïve", "Ångström", "Misérables, Les (1995)", "Léon: The Professional (1994)", "Alien³ (1992)", "¡Three Amigos! (1986)",
  "東京物語 (1953)", "日本語のテキスト", "한국어", "中文 English 混合", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "a😀b", " 😀 ",
  "e\u0301", "n\u0303o", "\u0301", "a\u0301\u0302b", "\u200b", "a\u200db", "\ufeffx",
  // code points Node's Unicode 17 calls letters/numbers and llama.cpp's older table leaves unassigned
  "a\u088fb", "1\u{10d40}2", " \u088f",
  // control characters
  "\x00", "a\x00b", "\x7f", "\x1f x",
  // long words
  "x".repeat(300), "ab".repeat(200), " ".repeat(100), "9".repeat(100), "!?".repeat(150),
  // the control tokens' text is plain text here
  "<|bos|>", "<|eos|>", "<|pad|>", "x<|bos|>y", "<|bos|><|eos|>", " <|eos|> ",
];

let vocab: BpeVocab;
let bpe: ByteLevelBpe;
let cpp: LlamaModel;
let corpus: string[];

beforeAll(async () => {
  const items = embeddedCatalog().items.slice(1);
  const genres = items.flatMap((it) => Object.values(it.attributes ?? {}).flat().map(String));
  corpus = [...new Set([...items.map((it) => it.title), ...genres])];
  vocab = trainByteLevelBpe([...corpus, ...HARD_CASES], { vocabSize: 4000, minPairCount: 1 });
  bpe = new ByteLevelBpe(vocab);
  cpp = await llamaCppWithVocab(vocab, "embedded");
}, 60_000);
afterAll(async () => {
  await cpp?.dispose();
});

describe("reclm's byte-level BPE tokenizes as llama.cpp does", () => {
  it("the vocabulary is what llama.cpp loaded: size, BOS/EOS, add_bos", () => {
    expect(vocab.tokens.length).toBeGreaterThan(1000);
    expect(vocab.tokens.length).toBeLessThanOrEqual(4000);
    expect(cpp.tokens.bos).toBe(vocab.bos);
    expect(cpp.tokens.eos).toBe(vocab.eos);
    expect(cpp.tokens.shouldPrependBosToken).toBe(true);
    expect(bpe.bos).toBe(vocab.bos);
  });

  it("every title and genre of the embedded dataset, one per text and all of them as one text", () => {
    expectLlamaCppParity(cpp, bpe, [...corpus, corpus.join("\n"), corpus.slice(0, 40).join(" \n ")]);
  });

  it("hard cases: whitespace, numbers, punctuation, contractions, accents, CJK, emoji, marks, control-token text", () => {
    expectLlamaCppParity(cpp, bpe, [...HARD_CASES, HARD_CASES.join(""), HARD_CASES.join(" "), HARD_CASES.join("\n")]);
  });

  it("control tokens: their text encodes as plain text, their ids decode to nothing (llama.cpp's detokenize(.., false))", () => {
    const ids = bpe.encode("<|eos|>");
    expect(ids).not.toContain(vocab.eos);
    expect(ids.length).toBeGreaterThan(1);
    expect(bpe.decode([vocab.bos, ...bpe.encode("hi"), vocab.eos])).toBe("hi");
    expect(cpp.detokenize([vocab.bos, ...bpe.encode("hi"), vocab.eos] as never, false)).toBe("hi");
    expect(bpe.decode([vocab.bos, vocab.eos], { special: true })).toBe("<|bos|><|eos|>");
    expect(cpp.detokenize([vocab.bos, vocab.eos] as never, true)).toBe("<|bos|><|eos|>");
  });

  it("is a PromptTokenizer: LlamaRec's title truncation works on it", () => {
    const tok: PromptTokenizer = bpe;
    const title = corpus.find((t) => bpe.encode(t).length > 3)!;
    const cut = truncateTitle(title, tok, 2);
    expect(cut).toBe(bpe.decode(bpe.encode(title).slice(0, 2)));
    expect(title.startsWith(cut)).toBe(true);
  });
});

describe("llama.cpp's Unicode classes", () => {
  it("one code point from each end of every letter/number/other run of llama.cpp's table, and every whitespace, in context", async () => {
    const points: number[] = [...LLAMACPP_WHITESPACE];
    let start = 0;
    for (const run of LLAMACPP_CLASS_RUNS.split(",")) {
      const next = start + parseInt(run.slice(0, -1), 36);
      if (next > start) points.push(start, next - 1);
      start = next;
    }
    points.push(start, 0x10ffff);
    // Lone surrogates are not text (a JS string holding one reaches llama.cpp as U+FFFD).
    const texts = points
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c))
      .map((c) => `a${c}a 1${c}1 !${c}! ${c}  ${c}'s`);
    const v = trainByteLevelBpe(texts, { vocabSize: 40000, minPairCount: 1 });
    const model = await llamaCppWithVocab(v, "unicode-classes");
    try {
      expectLlamaCppParity(model, new ByteLevelBpe(v), texts);
    } finally {
      await model.dispose();
    }
  }, 60_000);
});

describe("random Unicode text (fast-check)", () => {
  const unit = fc.oneof(
    fc.constantFrom(" ", "  ", "\n", "\t", "'", "'s", "'ll", "1", "42", "a", "Z", "é", "\u0301", "\u00a0", "\u3000", "\u0085", "(", "!", "日", "😀", "\u088f", "<|eos|>"),
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }),
  );
  const text = fc.string({ unit, maxLength: 24 });
  const settings = { seed: 20261206, numRuns: 300 };

  it("the same ids and text in llama.cpp for 300 random strings", async () => {
    // Trained on the very strings the property draws (same seed), so their words hold merges.
    const v = trainByteLevelBpe(fc.sample(text, settings), { vocabSize: 40000, minPairCount: 1 });
    const rbpe = new ByteLevelBpe(v);
    const model = await llamaCppWithVocab(v, "random");
    try {
      fc.assert(
        fc.property(text, (s) => {
          expectLlamaCppParity(model, rbpe, [s]);
        }),
        settings,
      );
    } finally {
      await model.dispose();
    }
  }, 60_000);
});
