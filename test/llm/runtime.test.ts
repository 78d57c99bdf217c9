import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../src/engine/index.ts";
import { declareLlamaFromGguf } from "../../src/llm/llama.ts";
import { loadLlamaCppModel, NextTokenScorer, readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { Rng } from "../../src/rng.ts";
import { decoderLogProbs } from "../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-runtime-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** reclm's decoder: log-softmax at the last position of one prompt, at the candidate tokens. */
async function reference(file: string, prompt: readonly number[], candidates: readonly number[]): Promise<number[]> {
  const store = new ParamStore(engine);
  try {
    const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file);
    store.initialize(new Rng(0));
    const last = decoderLogProbs(engine, store, lm, prompt)[prompt.length - 1];
    return candidates.map((c) => last[c]);
  } finally {
    store.dispose();
  }
}

describe("NextTokenScorer (the verbalizer's forward on llama.cpp)", () => {
  for (const tokenizer of ["spm", "bpe"] as const) {
    it(`scores candidate next tokens of many prompts as reclm's decoder does (${tokenizer} vocabulary)`, async () => {
      const file = join(dir, `${tokenizer}.gguf`);
      const config = writeTinyLlamaGguf(file, { tokenizer, seed: 6 });
      const model = await loadLlamaCppModel(file);
      const scorer = await NextTokenScorer.create(model, { parallel: 2, contextSize: 64 });
      try {
        const r = new Rng(3);
        // five prompts of different lengths over two sequences: the sequences are reused after clearing
        const prompts = [9, 17, 4, 30, 12].map((n) => Array.from({ length: n }, () => r.int(3, config.vocabSize - 2)));
        const candidates = [10, 11, 12, 40, 41, 200];
        const got = await scorer.score(prompts, candidates);
        for (let i = 0; i < prompts.length; i++) {
          const want = await reference(file, prompts[i], candidates);
          // llama.cpp keeps its KV cache in F16 by default: the log-probabilities agree to ~1e-3
          for (let j = 0; j < candidates.length; j++) expect(Math.abs(got[i][j] - want[j]), `prompt ${i} token ${candidates[j]}`).toBeLessThan(5e-3);
          const order = (xs: ArrayLike<number>) => Array.from(xs, (_, k) => k).sort((a, b) => xs[b] - xs[a]);
          expect(order(got[i])).toEqual(order(want));
        }
        await expect(scorer.score([prompts[0]], [config.vocabSize + 5])).rejects.toThrow(/outside the model's vocabulary/);
        await expect(scorer.score([[]], [10])).rejects.toThrow(/prompt 0 has 0 tokens/);
        // a second call while the first holds every sequence is refused, not answered with an empty result
        const first = scorer.score(prompts, candidates);
        await expect(scorer.score(prompts, candidates)).rejects.toThrow(/must not overlap/);
        expect((await first).every((row) => row.length === candidates.length)).toBe(true);
      } finally {
        await scorer.dispose();
        await model.dispose();
      }
    }, 60_000);
  }
});
