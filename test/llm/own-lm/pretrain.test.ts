import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { Engine, ParamStore } from "../../../src/engine/index.ts";
import { declareLlamaFromGguf } from "../../../src/llm/llama.ts";
import { buildLmCorpus, historyDocument, itemDocument } from "../../../src/llm/own-lm/corpus.ts";
import { LM_FILE, LM_TOKENIZER, pretrainLm, resolvePretrainConfig } from "../../../src/llm/own-lm/pretrain.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader } from "../../../src/llm/runtime.ts";
import { ByteLevelBpe } from "../../../src/llm/tokenizer/index.ts";
import { TextGenerator } from "../../../src/llm/generate.ts";
import { Rng } from "../../../src/rng.ts";
import { decoderLogProbs } from "../../helpers/decoder.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-own-lm-"));
let ds: SequenceDataset;
beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the LM corpus", () => {
  it("holds item documents and history windows of the training split only, never a validation or test item at its place", () => {
    const c = buildLmCorpus(ds, { heldOutShare: 0.1, seed: 3 });
    expect(c.counts.items).toBe(ds.catalog.size);
    const docs = new Set([...c.train, ...c.heldOut]);
    expect(docs.has(itemDocument(ds.catalog.items[1]))).toBe(true);
    // The first window of user 0 is their first 20 training items.
    const first = historyDocument(Array.from(ds.train[0].subarray(0, 20), (i) => ds.catalog.items[i].title));
    expect(docs.has(first)).toBe(true);
    // No history document ends with a user's training history followed by their validation item.
    for (let u = 0; u < 50; u++) {
      const seq = [...ds.train[u], ds.val[u]];
      const tail = historyDocument(seq.slice(Math.max(0, seq.length - 20)).map((i) => ds.catalog.items[i].title));
      expect(docs.has(tail)).toBe(false);
    }
    expect(c.heldOut.length / (c.train.length + c.heldOut.length)).toBeGreaterThan(0.05);
    expect(c.heldOut.length / (c.train.length + c.heldOut.length)).toBeLessThan(0.15);
  });
});

describe("reclm's own LM", () => {
  it("pretrains, lowers held-out perplexity, and writes a GGUF llama.cpp tokenizes and scores exactly as reclm does", async () => {
    const out = join(dir, "lm");
    const config = { vocabSize: 600, dim: 32, layers: 1, heads: 2, ffnDim: 64, blockSize: 64, batchSize: 8, microBatch: 8, epochs: 1, validateEvery: 10, warmupSteps: 2, lr: 5e-3, minLr: 5e-4 };
    const rep = await pretrainLm({ ds, size: "tiny", outDir: out, config, maxSteps: 20, threads: 1 });
    expect(rep.steps).toBe(20);
    expect(rep.validations.map((v) => v.step)).toEqual([0, 10, 20]);
    const ppl = rep.validations.map((v) => v.metrics.perplexity);
    expect(ppl[0]).toBeGreaterThan(300); // ~ the vocabulary size at a random start
    expect(rep.heldOutPerplexity).toBeLessThan(ppl[0] / 4);
    expect(rep.corpus.trainTokens).toBeGreaterThan(100_000);
    const file = join(out, LM_FILE);
    expect(existsSync(join(out, "report.md"))).toBe(true);

    const tok = new ByteLevelBpe(JSON.parse(readFileSync(join(out, LM_TOKENIZER), "utf8")));
    const model = await loadLlamaCppModel(file);
    const engine = Engine.create({ threads: 1 });
    const store = new ParamStore(engine);
    try {
      const text = "(1) " + ds.catalog.items[5].title + " \n (2) " + ds.catalog.items[9].title + " \n (3)";
      expect(model.tokenize(text, false).map(Number)).toEqual(tok.encode(text));
      expect(model.tokens.shouldPrependBosToken).toBe(true);
      const tokens = [tok.bosId, ...tok.encode(text)];
      const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file);
      store.initialize(new Rng(0));
      const ours = decoderLogProbs(engine, store, lm, tokens);
      const theirs = await llamaCppNextTokenProbabilities(model, tokens, lm.config.vocabSize);
      let worst = 0;
      for (let t = 0; t < tokens.length; t++) for (let v = 0; v < lm.config.vocabSize; v++) worst = Math.max(worst, Math.abs(Math.exp(ours[t][v]) - theirs[t][v]));
      expect(worst).toBeLessThan(1e-4);
      // ...and generates with it: greedy continuation, decoded by reclm's tokenizer to the text llama.cpp returns
      const gen = await TextGenerator.create(model, { threads: 1, parallel: 1, contextSize: 256 });
      try {
        const [g] = await gen.generate(tokens, { beamWidth: 1, maxNewTokens: 8 });
        expect(g.tokens.length).toBeGreaterThan(0);
        expect(tok.decode(g.tokens)).toBe(g.text);
      } finally {
        await gen.dispose();
      }
    } finally {
      store.dispose();
      engine.dispose();
      await model.dispose();
    }
  });

  it("refuses unknown or inconsistent shape fields, naming them", () => {
    expect(() => resolvePretrainConfig("tiny", { dims: 3 })).toThrow(/unknown LM pretraining field "dims"/);
    expect(() => resolvePretrainConfig("tiny", { dim: 100, heads: 3 })).toThrow(/dim 100 must split into 3 heads/);
    expect(() => resolvePretrainConfig("huge" as "tiny")).toThrow(/unknown LM size "huge"/);
  });
});
