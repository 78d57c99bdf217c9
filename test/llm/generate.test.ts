import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TextGenerator, type GeneratedSequence } from "../../src/llm/generate.ts";
import { loadLlamaCppModel } from "../../src/llm/runtime.ts";
import { NextTokenScorer } from "../../src/llm/scorer.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { TokenTrie } from "../../src/llm/token-trie.ts";
import { Rng } from "../../src/rng.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-generate-"));
const file = join(dir, "tiny.gguf");
const config = writeTinyLlamaGguf(file, { seed: 21, tokenizer: "bpe" });
const V = config.vocabSize;
let model: LlamaModel;
let generator: TextGenerator;
let scorer: NextTokenScorer;
let eos: number;

beforeAll(async () => {
  model = await loadLlamaCppModel(file, { threads: 1 });
  eos = Number(model.tokens.eos);
  // F32 KV caches: generation and re-scoring then agree to ~1e-6 instead of ~1e-3
  generator = await TextGenerator.create(model, { maxBeamWidth: 24, contextSize: 48, kvCache: "f32" });
  scorer = await NextTokenScorer.create(model, { parallel: 4, contextSize: 48, kvCache: "f32" });
});
afterAll(async () => {
  await generator?.dispose();
  await scorer?.dispose();
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A prompt of random ordinary tokens (not BOS/EOS, which are the last two ids of the bpe vocabulary). */
const prompt = (r: Rng, n: number) => Array.from({ length: n }, () => r.int(0, V - 3));
const text = (tokens: readonly number[]) => model.detokenize(tokens as never, false);

/** Results are distinct token sequences ranked by score, and each logProb is what re-scoring its tokens gives. */
async function expectConsistent(p: readonly number[], results: readonly GeneratedSequence[]): Promise<void> {
  expect(new Set(results.map((r) => r.tokens.join(","))).size).toBe(results.length);
  for (let i = 1; i < results.length; i++) expect(results[i - 1].score).toBeGreaterThanOrEqual(results[i].score);
  const rescored = await scorer.scoreContinuations(p, results.map((r) => r.tokens));
  results.forEach((r, i) => expect(Math.abs(r.logProb - rescored[i]), `result ${i}`).toBeLessThan(1e-4));
}

/** Exhaustive reference: every sequence of the trie followed by EOS, scored in full, best first. */
async function exhaustive(p: readonly number[], trie: TokenTrie, lengthPenalty = 0): Promise<{ tokens: number[]; score: number }[]> {
  const full = trie.sequences().map((s) => [...s, eos]);
  const logProbs = await scorer.scoreContinuations(p, full);
  return full.map((tokens, i) => ({ tokens, score: logProbs[i] / Math.pow(tokens.length, lengthPenalty) })).sort((a, b) => b.score - a.score);
}

describe("TextGenerator: greedy and beam search", () => {
  it("beam search of width 1 is greedy decoding (free, with a stop string, and over a trie)", async () => {
    const r = new Rng(1);
    for (let k = 0; k < 4; k++) {
      const p = prompt(r, 6 + 3 * k);
      const greedy = await generator.greedy(p, { maxNewTokens: 10 });
      const [beam] = await generator.beamSearch(p, { beamWidth: 1, maxNewTokens: 10 });
      expect(beam.tokens).toEqual(greedy.tokens);
      expect(beam.finish).toBe(greedy.finish);
      expect(beam.logProb).toBeCloseTo(greedy.logProb, 5);
      await expectConsistent(p, [greedy]);
    }
    const p = prompt(r, 9);
    const trie = TokenTrie.from(Array.from({ length: 12 }, () => prompt(r, 1 + r.int(0, 4))));
    const greedy = await generator.greedy(p, { trie });
    expect((await generator.beamSearch(p, { beamWidth: 1, trie }))[0].tokens).toEqual(greedy.tokens);
    expect(greedy.finish).toBe("eos");
    expect(trie.has(greedy.tokens.slice(0, -1))).toBe(true);
  }, 60_000);

  it("a stop string ends the output at the token that completes it, and the text is cut before it", async () => {
    const r = new Rng(2);
    const p = prompt(r, 8);
    const free = await generator.greedy(p, { maxNewTokens: 16 });
    // a printable piece of the free output, from its fifth token on
    const at = free.tokens.findIndex((t, i) => i >= 4 && /^[!-~]+$/.test(text([t])));
    expect(at).toBeGreaterThan(0);
    const stop = text([free.tokens[at]]);
    for (const got of [await generator.greedy(p, { maxNewTokens: 16, stop: [stop] }), (await generator.beamSearch(p, { beamWidth: 1, maxNewTokens: 16, stop: [stop] }))[0]]) {
      expect(got.finish).toBe("stop");
      expect(free.tokens.slice(0, got.tokens.length)).toEqual(got.tokens);
      expect(text(got.tokens)).toContain(stop);
      expect(text(got.tokens.slice(0, -1))).not.toContain(stop);
      expect(got.text).toBe(text(got.tokens).slice(0, text(got.tokens).indexOf(stop)));
      expect(got.logProb).toBeCloseTo(free.logProb - (free.tokens.length > got.tokens.length ? (await scorer.scoreContinuations([...p, ...got.tokens], [free.tokens.slice(got.tokens.length)]))[0] : 0), 4);
    }
  }, 60_000);

  it("returns beamWidth distinct sequences ranked by score, whose log-probabilities equal re-scoring them", async () => {
    const r = new Rng(3);
    for (const lengthPenalty of [0, 1]) {
      const p = prompt(r, 11);
      const results = await generator.beamSearch(p, { beamWidth: 4, maxNewTokens: 6, lengthPenalty });
      expect(results.length).toBe(4);
      await expectConsistent(p, results);
      for (const res of results) expect(res.score).toBeCloseTo(res.logProb / Math.pow(res.tokens.length, lengthPenalty), 10);
    }
  }, 60_000);

  it("stopping once no live beam can beat the worst result changes nothing (free and over a trie, with and without length penalty)", async () => {
    // peaked next-token distributions (a large output matrix): a later token can outscore an earlier ending, so the
    // bound matters
    const peakedFile = join(dir, "peaked.gguf");
    writeTinyLlamaGguf(peakedFile, { seed: 21, tokenizer: "bpe", outputStd: 3 });
    const peaked = await loadLlamaCppModel(peakedFile, { threads: 1 });
    // Every pair of searches starts from fresh KV caches on both sides: their evaluated tokens compare, and both compute
    // each position in the same batches (a prefix cached by an earlier search was computed in another batch shape,
    // whose rounding can swap two near-tied results).
    const fresh = () => Promise.all([0, 1].map(() => TextGenerator.create(peaked, { maxBeamWidth: 4, contextSize: 48, parallel: 1 })));
    try {
      const r = new Rng(10);
      const stop = ["a", "e", "o", " ", "t"];
      let stoppedEarly = 0;
      for (let k = 0; k < 30; k++) {
        const p = prompt(r, 8 + (k % 6));
        // titles that end after one token or go on: results fill up before the budget ends
        const firsts = prompt(r, 6);
        const trie = TokenTrie.from([...firsts.map((t) => [t]), ...firsts.map((t) => [t, ...prompt(r, 1 + (k % 3))])]);
        for (const options of [{ beamWidth: 2, trie }, { beamWidth: 3, trie, lengthPenalty: 1 }, { beamWidth: 4, trie }, { beamWidth: 3, maxNewTokens: 10, stop }, { beamWidth: 4, maxNewTokens: 10, stop }, { beamWidth: 2, maxNewTokens: 10, stop, lengthPenalty: 1 }]) {
          const [early, full] = await fresh();
          try {
            const got = await early.beamSearch(p, options);
            const want = await full.beamSearch(p, { ...options, earlyStop: false });
            if (early.stats.evaluatedTokens < full.stats.evaluatedTokens) stoppedEarly++;
            expect(got.map((x) => x.tokens), `case ${k}`).toEqual(want.map((x) => x.tokens));
            got.forEach((x, i) => expect(x.score).toBeCloseTo(want[i].score, 5));
          } finally {
            await Promise.all([early.dispose(), full.dispose()]);
          }
        }
      }
      expect(stoppedEarly).toBeGreaterThan(10); // the bound did cut searches short
    } finally {
      await peaked.dispose();
    }
  }, 60_000);

  it("re-uses each sequence's KV cache: the prompt is evaluated once per beam sequence, not once per step", async () => {
    const p = prompt(new Rng(4), 30);
    const W = 3;
    const steps = 8;
    const before = generator.stats.evaluatedTokens;
    const results = await generator.beamSearch(p, { beamWidth: W, maxNewTokens: steps });
    const evaluated = generator.stats.evaluatedTokens - before;
    expect(results.length).toBe(W);
    // at most the prompt on each sequence, plus at most a whole beam's tokens per sequence and step (a beam that moves
    // to another sequence re-evaluates what it does not share); re-evaluating the prompt every step would be > W·P·steps
    expect(evaluated).toBeLessThanOrEqual(W * p.length + (W * steps * (steps + 1)) / 2);
    expect(evaluated).toBeGreaterThanOrEqual(p.length);
  }, 60_000);
});

describe("TextGenerator: constrained to a prefix tree", () => {
  it("beam search as wide as every step's extensions is exhaustive: it ranks all sequences as scoring each in full", async () => {
    const r = new Rng(5);
    const [a, b] = [r.int(0, V - 3), r.int(0, V - 3)];
    // every sequence over {a, b} of 1..4 tokens: 30 sequences; a step has at most 16 + 8 = 24 extensions
    const all: number[][] = [];
    const grow = (s: number[]) => {
      if (s.length > 0) all.push(s);
      if (s.length < 4) for (const t of [a, b]) grow([...s, t]);
    };
    grow([]);
    const trie = TokenTrie.from(all);
    expect(trie.size).toBe(30);
    for (const lengthPenalty of [0, 1]) {
      const p = prompt(r, 10);
      const want = await exhaustive(p, trie, lengthPenalty);
      const got = await generator.beamSearch(p, { beamWidth: 24, trie, lengthPenalty });
      expect(got.length).toBe(24);
      got.forEach((g, i) => expect(Math.abs(g.score - want[i].score), `rank ${i}`).toBeLessThan(1e-4));
      expect(want[0].score - want[1].score).toBeGreaterThan(1e-4); // no near-tie at the top: the argmax is well defined
      expect(got[0].tokens).toEqual(want[0].tokens);
      await expectConsistent(p, got);
    }
  }, 60_000);

  it("over a trie of 20 sequences, beam search of width 20 returns exactly them, ranked as scoring each full sequence", async () => {
    const r = new Rng(6);
    // 20 distinct titles with shared beginnings (as catalogue titles have): 4 stems, 5 endings each
    const stems = Array.from({ length: 4 }, () => prompt(r, 1 + r.int(0, 2)));
    const titles = stems.flatMap((s) => Array.from({ length: 5 }, (_, k) => (k === 0 ? s : [...s, ...prompt(r, 1 + r.int(0, 2))])));
    const trie = TokenTrie.from(titles);
    expect(trie.size).toBe(20);
    const p = prompt(r, 12);
    const want = await exhaustive(p, trie);
    const got = await generator.beamSearch(p, { beamWidth: 20, trie });
    expect(got.map((g) => g.finish)).toEqual(new Array(20).fill("eos"));
    expect(got.map((g) => g.tokens.join(",")).sort()).toEqual(want.map((w) => w.tokens.join(",")).sort());
    got.forEach((g, i) => expect(Math.abs(g.score - want[i].score), `rank ${i}`).toBeLessThan(1e-4));
    expect(want[0].score - want[1].score).toBeGreaterThan(1e-4);
    expect(got[0].tokens).toEqual(want[0].tokens);
    await expectConsistent(p, got);
  }, 60_000);

  it("never emits anything outside the trie (property: random tries, widths and token budgets)", async () => {
    const token = fc.integer({ min: 0, max: V - 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(token, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(token, { minLength: 1, maxLength: 12 }),
        async (sequences, beamWidth, maxNewTokens, p) => {
          const trie = TokenTrie.from(sequences);
          const results = await generator.generate(p, { trie, beamWidth, maxNewTokens });
          expect(results.length).toBeGreaterThan(0);
          expect(results.length).toBeLessThanOrEqual(Math.min(beamWidth, trie.size));
          expect(new Set(results.map((x) => x.tokens.join(","))).size).toBe(results.length);
          for (const res of results) {
            if (res.finish === "eos") {
              expect(res.tokens.at(-1)).toBe(eos);
              expect(trie.has(res.tokens.slice(0, -1))).toBe(true);
            } else {
              expect(res.finish).toBe("length");
              expect(res.tokens.length).toBe(maxNewTokens);
              expect(trie.walk(res.tokens)).toBeDefined(); // a prefix of an allowed sequence
            }
          }
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  }, 120_000);

  it("refuses bad requests before generating: too wide, too long, tokens outside the vocabulary, bad options", async () => {
    const p = prompt(new Rng(8), 8);
    await expect(generator.generate(p, { beamWidth: 25 })).rejects.toThrow(/beamWidth must be an integer in 1\.\.24/);
    await expect(generator.generate(p, { maxNewTokens: 41 })).rejects.toThrow(/8 tokens and 41 new ones do not fit a sequence of 48/);
    await expect(generator.generate([...p, V], {})).rejects.toThrow(/holds \d+, which is not a token id of this model/);
    await expect(generator.generate(p, { trie: TokenTrie.from([[V + 5]]) })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG", message: expect.stringMatching(/outside the model's vocabulary/) });
    await expect(generator.generate(p, { lengthPenalty: -1 })).rejects.toThrow(/lengthPenalty/);
    await expect(generator.generate(p, { stop: [""] })).rejects.toThrow(/stop strings must be non-empty/);
  });

  it("dispose() rejects queued generations with RECLM_ERR_DISPOSED and frees the context", async () => {
    const own = await TextGenerator.create(model, { maxBeamWidth: 2, contextSize: 48, maxQueued: 1 });
    const r = new Rng(9);
    const requests = [0, 1, 2].map(() => own.generate(prompt(r, 10), { beamWidth: 2, maxNewTokens: 20 }));
    requests.forEach((q) => q.catch(() => {}));
    await new Promise((res) => setImmediate(res));
    expect(own.stats).toMatchObject({ running: 1, queued: 1, waiting: 1 });
    await own.dispose();
    expect(own.disposed).toBe(true);
    const settled = await Promise.allSettled(requests);
    // the running one either finished or stopped at its next step; the others never ran
    if (settled[0].status === "rejected") expect(settled[0].reason).toMatchObject({ code: "RECLM_ERR_DISPOSED" });
    for (const s of settled.slice(1)) expect(s).toMatchObject({ status: "rejected", reason: { code: "RECLM_ERR_DISPOSED" } });
  });
});
