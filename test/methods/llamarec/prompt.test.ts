import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LlamaModel } from "node-llama-cpp";
import { encodeTruncatedLeft, llamaCppTokenizer, truncateToTokens as truncateTitle, type PromptTokenizer } from "../../../src/llm/prompt.ts";
import { encodeLlamaRecPrompt, encodeLlamaRecTrainingExample, indexLetter, LLAMAREC_PROMPT, letterTokens, llamarecPromptText } from "../../../src/methods/llamarec/prompt.ts";
import { loadLlamaCppModel } from "../../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../../src/llm/tiny-llama.ts";
import { describeWithShared } from "../../helpers/shared.ts";

/** One token per character (code point + 10), BOS 1, EOS 2: lengths are easy to count by hand. */
const charTokenizer: PromptTokenizer = {
  tokenize: (text) => [...text].map((c) => c.codePointAt(0)! + 10),
  detokenize: (tokens) => String.fromCodePoint(...tokens.map((t) => t - 10)),
  bos: 1,
  eos: 2,
};

const dir = mkdtempSync(join(tmpdir(), "reclm-prompts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("LlamaRec prompt text", () => {
  it("is the short Alpaca layout with numbered history and lettered candidates, as the authors' dataloader writes it", () => {
    const text = llamarecPromptText(["Toy Story (1995)", "Heat (1995)"], ["Up (2009)", "Cars (2006)", "Jaws (1975)"]);
    expect(text).toBe(
      "### Instruction:\nGiven user history in chronological order, recommend an item from the candidate pool with its index letter.\n\n" +
        "### Input:\nUser history: (1) Toy Story (1995) \n (2) Heat (1995); \n Candidate pool: (A) Up (2009) \n (B) Cars (2006) \n (C) Jaws (1975)\n\n" +
        "### Response:\n",
    );
  });

  it("substitutes the template once, so a title that looks like a placeholder stays text", () => {
    const text = llamarecPromptText(["{candidates}"], ["{history}"]);
    expect(text).toContain("User history: (1) {candidates}; \n Candidate pool: (A) {history}\n");
  });

  it("letters candidates A..T and refuses an index without a letter or an empty candidate list", () => {
    expect(Array.from({ length: 20 }, (_, i) => indexLetter(i)).join("")).toBe("ABCDEFGHIJKLMNOPQRST");
    expect(() => indexLetter(26)).toThrow(/no index letter/);
    expect(() => indexLetter(-1)).toThrow(/no index letter/);
    expect(() => llamarecPromptText(["a"], [])).toThrow(/at least one candidate/);
  });
});

describe("LlamaRec prompt tokens (budgets counted in tokens)", () => {
  it("cuts a title to its first tokens and leaves a title that fits untouched", () => {
    expect(truncateTitle("abcdef", charTokenizer, 4)).toBe("abcd");
    expect(truncateTitle("abc", charTokenizer, 4)).toBe("abc");
  });

  it("cuts the whole prompt on the left and keeps BOS first", () => {
    const full = encodeTruncatedLeft("0123456789", charTokenizer, 100);
    expect(full.truncated).toBe(0);
    expect(full.tokens).toEqual([1, ...charTokenizer.tokenize("0123456789")]);
    const cut = encodeTruncatedLeft("0123456789", charTokenizer, 5);
    expect(cut.tokens).toEqual([1, ...charTokenizer.tokenize("6789")]);
    expect(cut.truncated).toBe(6);
    expect(() => encodeTruncatedLeft("x", charTokenizer, 1)).toThrow(/no room/);
    const noBos = encodeTruncatedLeft("0123456789", { ...charTokenizer, bos: null }, 5);
    expect(noBos.tokens).toEqual(charTokenizer.tokenize("56789"));
  });

  it("scored prompts end at the response header; training examples add the letter and EOS, and label those two", () => {
    const input = { history: ["one", "two"], candidates: ["alpha", "beta", "gamma"] };
    const scored = encodeLlamaRecPrompt(input, charTokenizer);
    expect(charTokenizer.detokenize(scored.tokens.slice(1))).toBe(llamarecPromptText(input.history, input.candidates));
    const train = encodeLlamaRecTrainingExample({ ...input, answer: 1 }, charTokenizer);
    expect(train.tokens.slice(0, -2)).toEqual(scored.tokens);
    expect(train.tokens.slice(-2)).toEqual([...charTokenizer.tokenize("B"), 2]);
    expect(train.labelled).toBe(2);
    expect(() => encodeLlamaRecTrainingExample({ ...input, answer: 3 }, charTokenizer)).toThrow(/answer 3/);
  });

  it("applies the title budget to every title and the prompt budget last, keeping the candidates' end", () => {
    const long = "x".repeat(50);
    const options = { ...LLAMAREC_PROMPT, maxTitleTokens: 8, maxPromptTokens: 60 };
    const scored = encodeLlamaRecPrompt({ history: [long], candidates: [long, "short"] }, charTokenizer, options);
    expect(scored.tokens).toHaveLength(60);
    expect(scored.tokens[0]).toBe(1);
    const text = charTokenizer.detokenize(scored.tokens.slice(1));
    expect(text.endsWith("(A) xxxxxxxx \n (B) short\n\n### Response:\n")).toBe(true);
    expect(text).not.toContain("x".repeat(9));
    const train = encodeLlamaRecTrainingExample({ history: [long], candidates: [long, "short"], answer: 0 }, charTokenizer, options);
    // the letter is inside the budget (cut with the prompt), EOS comes after it
    expect(train.tokens).toHaveLength(61);
    expect(train.tokens.slice(-2)).toEqual([...charTokenizer.tokenize("A"), 2]);
  });

  it("refuses a tokenizer that cannot give each letter one token of its own", () => {
    const merging: PromptTokenizer = { ...charTokenizer, tokenize: (text) => charTokenizer.tokenize(text.replace(/\nA$/, "\n")) };
    expect(() => letterTokens(merging, 3)).toThrow(/index letter "A"/);
    const shared: PromptTokenizer = { ...charTokenizer, tokenize: (text) => charTokenizer.tokenize(text.replace(/B$/, "A")) };
    expect(() => letterTokens(shared, 3)).toThrow(/share one token/);
  });
});

describe("LlamaRec prompts on llama.cpp's tokenizers (reclm's tiny models)", () => {
  const letters = Array.from({ length: 20 }, (_, i) => indexLetter(i));
  for (const kind of ["spm", "bpe"] as const) {
    it(`resolves the verbalizer's letter tokens from a tokenized training example (${kind})`, async () => {
      const file = join(dir, `${kind}.gguf`);
      writeTinyLlamaGguf(file, { tokenizer: kind, words: ["movie", "the", "story", ...letters], seed: 2 });
      const model = await loadLlamaCppModel(file, { threads: 1 });
      try {
        const tok = llamaCppTokenizer(model);
        const ids = letterTokens(tok);
        expect(new Set(ids).size).toBe(20);
        const input = { history: ["the movie", "story"], candidates: letters.map((l) => `movie ${l}`) };
        for (const answer of [0, 7, 19]) {
          const train = encodeLlamaRecTrainingExample({ ...input, answer }, tok);
          expect(train.tokens.at(-1)).toBe(tok.eos);
          expect(train.tokens.at(-2)).toBe(ids[answer]);
          // the scored prompt is the training example without its two labelled tokens
          expect(encodeLlamaRecPrompt(input, tok).tokens).toEqual(train.tokens.slice(0, -2));
        }
        expect(tok.detokenize([ids[0]]).trim()).toBe("A");
        if (kind === "spm") {
          // SentencePiece: the bare letter encodes as "▁A", not as the token the letter takes after a newline
          expect(tok.tokenize("A")).not.toEqual([ids[0]]);
          expect(encodeLlamaRecPrompt(input, tok).tokens[0]).toBe(model.tokens.bos);
        }
      } finally {
        await model.dispose();
      }
    });
  }
});

describeWithShared("LlamaRec prompts with the Llama-2 vocabulary", ["models", "llama-2-tiny-random", "llama-2-tiny-random.gguf"], (file) => {
  let model: LlamaModel;
  it("puts newline (13) before the letter and EOS (2) after it, as the authors' collate function asserts", async () => {
    model = await loadLlamaCppModel(file, { threads: 1 });
    try {
      const tok = llamaCppTokenizer(model);
      const ids = letterTokens(tok);
      const input = { history: ["Toy Story (1995)"], candidates: Array.from({ length: 20 }, (_, i) => `Movie ${i}`) };
      const train = encodeLlamaRecTrainingExample({ ...input, answer: 0 }, tok);
      expect(train.tokens.at(-3)).toBe(13);
      expect(train.tokens.at(-1)).toBe(2);
      expect(train.tokens[0]).toBe(1);
      expect(train.tokens.at(-2)).toBe(ids[0]);
      // Llama-2: "A" after a newline is the bare-letter piece, not "▁A" (29909 vs 319)
      expect(ids[0]).toBe(29909);
      expect(tok.tokenize("A")).toEqual([319]);
      // a title is cut to 32 tokens of the real vocabulary
      const longTitle = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
      const cut = truncateTitle(longTitle, tok, 32);
      expect(tok.tokenize(cut).length).toBeLessThanOrEqual(32);
      expect(longTitle.startsWith(cut)).toBe(true);
    } finally {
      await model.dispose();
    }
  });
});
