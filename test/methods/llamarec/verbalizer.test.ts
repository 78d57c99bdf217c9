import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Catalog } from "../../../src/contracts.ts";
import { Engine, ParamStore } from "../../../src/engine/index.ts";
import { declareLlamaFromGguf } from "../../../src/llm/llama.ts";
import { llamaCppTokenizer } from "../../../src/llm/prompt.ts";
import { indexLetter, letterTokens } from "../../../src/methods/llamarec/prompt.ts";
import { loadLlamaCppModel, readGgufHeader } from "../../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../../src/llm/tiny-llama.ts";
import { VerbalizerRanker } from "../../../src/methods/llamarec/verbalizer.ts";
import { Rng } from "../../../src/rng.ts";
import { decoderLogProbs } from "../../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-verbalizer-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const words = ["the", "movie", "story", "night", "day", ...Array.from({ length: 20 }, (_, i) => indexLetter(i))];
const catalog: Catalog = {
  size: 30,
  items: [{ rawId: "", title: "" }, ...Array.from({ length: 30 }, (_, i) => ({ rawId: `m${i + 1}`, title: `${words[i % 5]} ${words[(i * 7) % 5]} ${i + 1}` }))],
};

describe("VerbalizerRanker (LlamaRec's one-forward ranker on llama.cpp)", () => {
  it("scores each candidate by its letter at the prompt's last position, as reclm's decoder computes it", async () => {
    const file = join(dir, "tiny.gguf");
    writeTinyLlamaGguf(file, { words, seed: 4, dim: 32 });
    const model = await loadLlamaCppModel(file, { threads: 1 });
    const ranker = await VerbalizerRanker.create(model, catalog, { parallel: 1, contextSize: 1024 });
    const store = new ParamStore(engine);
    try {
      const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file);
      store.initialize(new Rng(0));
      const letters = letterTokens(llamaCppTokenizer(model));
      const history = Int32Array.from({ length: 25 }, (_, i) => 1 + ((i * 11) % 30));
      const candidates = Int32Array.from([3, 17, 29, 8, 12]);
      const scores = await ranker.rank(history, candidates);
      expect(scores).toHaveLength(5);
      const prompt = ranker.promptTokens(history, candidates);
      const last = decoderLogProbs(engine, store, lm, prompt)[prompt.length - 1];
      // llama.cpp's F16 KV cache: log-probabilities agree to ~1e-3, the order exactly
      for (let j = 0; j < 5; j++) expect(Math.abs(scores[j] - last[letters[j]]), `candidate ${j}`).toBeLessThan(5e-3);
      const order = (xs: ArrayLike<number>) => Array.from(xs, (_, k) => k).sort((a, b) => xs[b] - xs[a]);
      expect(order(scores)).toEqual(order(Array.from(letters.slice(0, 5), (t) => last[t])));
      // only the last 20 history items are shown
      expect(ranker.promptTokens(history.subarray(5), candidates)).toEqual(prompt);
      expect(ranker.promptTokens(history.subarray(6), candidates)).not.toEqual(prompt);
      await expect(ranker.rank(history, Int32Array.from({ length: 21 }, (_, i) => i + 1))).rejects.toThrow(/1\.\.20 candidates, got 21/);
      await expect(ranker.rank(history, Int32Array.from([31]))).rejects.toThrow(/item 31 is not in the catalogue/);
    } finally {
      store.dispose();
      await ranker.dispose();
      await model.dispose();
    }
  });
});
