import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Progress } from "../../src/contracts.ts";
import { Embedder } from "../../src/llm/embeddings.ts";
import { loadLlamaCppModel } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-embeddings-"));
const file = join(dir, "tiny.gguf");
const config = writeTinyLlamaGguf(file, { seed: 31 });
let model: LlamaModel;

beforeAll(async () => {
  model = await loadLlamaCppModel(file, { threads: 1 });
});
afterAll(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const TEXTS = ["the user watched a movie", "next item", "A", "the movie the user watched next (B) (C) Answer: D", "a movie"];

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe("Embedder", () => {
  it('"last" on reclm\'s decoder is what llama.cpp\'s embedding context gives an LM without a pooling type ("model")', async () => {
    const embedder = Embedder.create(model, { threads: 1, batchSize: 2 });
    try {
      const last = await embedder.embed(TEXTS, { pooling: "last" });
      const fromLlamaCpp = await embedder.embed(TEXTS, { pooling: "model" });
      TEXTS.forEach((_, i) => {
        expect(last[i].length).toBe(config.dim);
        expect(fromLlamaCpp[i].length).toBe(config.dim);
        // llama.cpp keeps its KV cache in F16: the hidden states agree to ~1e-3
        expect(maxAbs(last[i], fromLlamaCpp[i]), TEXTS[i]).toBeLessThan(5e-3);
      });
      expect(maxAbs(last[0], last[1])).toBeGreaterThan(0.1); // different texts, different vectors
    } finally {
      await embedder.dispose();
    }
  }, 60_000);

  it('"mean" averages the final hidden states over the text\'s tokens (llama.cpp\'s last-token states of its prefixes)', async () => {
    const embedder = Embedder.create(model, { threads: 1, batchSize: 4 });
    const ctx = await model.createEmbeddingContext({ threads: 1, contextSize: 64 });
    try {
      const [mean] = await embedder.embed([TEXTS[0]], { pooling: "mean" });
      // causal attention: the state at position k is the last-token state of the first k + 1 tokens
      const tokens = [Number(model.tokens.bos), ...model.tokenize(TEXTS[0], false).map(Number)];
      const want = new Float64Array(config.dim);
      for (let k = 1; k <= tokens.length; k++) {
        const v = (await ctx.getEmbeddingFor(tokens.slice(0, k) as never)).vector;
        v.forEach((x, d) => (want[d] += x / tokens.length));
      }
      expect(tokens.length).toBeGreaterThan(3);
      expect(maxAbs(mean, want)).toBeLessThan(5e-3);
    } finally {
      await ctx.dispose();
      await embedder.dispose();
    }
  }, 60_000);

  it("batches of right-padded texts give each text the vector it gets alone, in the callers' order, with progress", async () => {
    const embedder = Embedder.create(model, { threads: 1, batchSize: 3 });
    try {
      for (const pooling of ["mean", "last"] as const) {
        const seen: Progress[] = [];
        const batched = await embedder.embed(TEXTS, { pooling, onProgress: (p) => seen.push(p) });
        for (let i = 0; i < TEXTS.length; i++) {
          const [alone] = await embedder.embed([TEXTS[i]], { pooling });
          expect(maxAbs(batched[i], alone), `${pooling}: ${TEXTS[i]}`).toBeLessThan(1e-5);
        }
        expect(seen.map((p) => p.done)).toEqual([3, 5]);
        expect(seen.every((p) => p.total === TEXTS.length && p.stage === "embed")).toBe(true);
      }
    } finally {
      await embedder.dispose();
    }
  }, 60_000);

  it("refuses bad input, and dispose() rejects queued calls with RECLM_ERR_DISPOSED", async () => {
    const embedder = Embedder.create(model, { threads: 1, contextSize: 8, maxQueued: 1 });
    await expect(embedder.embed(["a"], { pooling: "max" as never })).rejects.toThrow(/pooling must be "mean", "last" or "model"/);
    await expect(embedder.embed(["the user watched a movie next item the user"], { pooling: "mean" })).rejects.toThrow(/texts\[0\] has \d+ tokens; the embedder holds 8/);
    const calls = [0, 1, 2].map(() => embedder.embed(TEXTS.slice(0, 2), { pooling: "mean" }));
    calls.forEach((c) => c.catch(() => {}));
    await embedder.dispose();
    const settled = await Promise.allSettled(calls);
    for (const s of settled.slice(1)) expect(s).toMatchObject({ status: "rejected", reason: { code: "RECLM_ERR_DISPOSED" } });
    await expect(embedder.embed(["a"], { pooling: "mean" })).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
  }, 60_000);
});
