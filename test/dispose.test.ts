/**
 * Everything that holds native memory (ggml buffers, llama.cpp contexts) frees it through `using` / `await using` at
 * the end of a scope, and says so through `disposed`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AdamW, ComputeAllocator, Engine, GradAccumulator, ParamStore, compile, type Graph } from "../src/engine/index.ts";
import { loadDataset } from "../src/data/index.ts";
import { loadLlamaCppModel } from "../src/llm/runtime.ts";
import { NextTokenScorer } from "../src/llm/scorer.ts";
import { writeTinyLlamaGguf } from "../src/llm/tiny-llama.ts";
import { LRURec } from "../src/models/lrurec.ts";
import { NeuralRecommender } from "../src/models/neural/recommender.ts";
import { resolveConfig } from "../src/models/neural/config.ts";
import { TopKRecommender } from "../src/models/top-k.ts";
import { Rng } from "../src/rng.ts";

describe("dispose through `using`", () => {
  it("engine, store, optimizer, accumulator, allocator and graph are freed at the end of their scope, innermost first", () => {
    let kept: { engine: Engine; store: ParamStore; opt: AdamW; acc: GradAccumulator; alloc: ComputeAllocator; graph: Graph } | undefined;
    {
      using engine = Engine.create({ threads: 1 });
      using store = new ParamStore(engine);
      const w = store.add("w", [2, 3]);
      store.initialize(new Rng(1));
      using opt = new AdamW(store, { lr: 0.1 });
      using acc = new GradAccumulator(store);
      using alloc = new ComputeAllocator(engine);
      using graph = compile(engine, {
        mode: "train",
        params: store,
        optimizer: opt,
        allocator: alloc,
        build: (b) => ({ loss: b.sum(b.sqr(b.matmulNT(b.input("x", [1, 3]), w))) }),
      });
      graph.run({ x: Float32Array.of(1, 2, 3) });
      for (const o of [engine, store, opt, acc, alloc, graph]) expect(o.disposed).toBe(false);
      kept = { engine, store, opt, acc, alloc, graph };
    }
    for (const [name, o] of Object.entries(kept)) expect(o.disposed, name).toBe(true);
    expect(() => kept!.graph.run({ x: Float32Array.of(1, 2, 3) })).toThrow(/disposed/);
  });

  it("a trained-model recommender and its top-k wrapper free the engine they own", async () => {
    const ds = await loadDataset("embedded");
    const { config } = resolveConfig(LRURec, { preset: "none", config: { maxLen: 4, hidden: 8 } });
    let rec: NeuralRecommender | undefined;
    let top: TopKRecommender | undefined;
    {
      await using topK = new TopKRecommender(new NeuralRecommender(LRURec, config, ds.catalog.size, { threads: 1 }));
      expect((await topK.top(ds.train[0], 3)).items.length).toBe(3);
      top = topK;
      rec = topK.model as NeuralRecommender;
      expect(rec.disposed).toBe(false);
    }
    expect(top.disposed).toBe(true);
    expect(rec.disposed).toBe(true);
    expect(rec.engine.disposed).toBe(true);
    await expect(rec.scoreAll([ds.train[0]])).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
  });

  it("the LLM scorer frees its llama.cpp context with `await using`", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "reclm-dispose-")), "tiny.gguf");
    writeTinyLlamaGguf(file, { seed: 3 });
    const model = await loadLlamaCppModel(file, { threads: 1 });
    let kept: NextTokenScorer | undefined;
    try {
      {
        await using scorer = await NextTokenScorer.create(model, { parallel: 1, contextSize: 64 });
        expect((await scorer.scorePrompt([1, 5, 6], [10]))[0]).toBeLessThan(0);
        kept = scorer;
      }
      expect(kept.disposed).toBe(true);
      await expect(kept.scorePrompt([1, 2], [10])).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
    } finally {
      await model.dispose();
    }
  });
});
