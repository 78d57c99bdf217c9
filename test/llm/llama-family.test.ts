import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../src/engine/index.ts";
import { declareLlamaFromGguf, LLAMA_PROJECTIONS } from "../../src/llm/llama.ts";
import { writeLoraGguf } from "../../src/llm/lora-gguf.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf, type TinyLlamaOptions } from "../../src/llm/tiny-llama.ts";
import { Rng } from "../../src/rng.ts";
import { decoderLogProbs } from "../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-llama-family-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const maxGap = (a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]) => {
  let worst = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++) worst = Math.max(worst, Math.abs(row[i] - b[t][i]));
  });
  return worst;
};

/**
 * Writes a tiny model of this kind, then compares reclm's decoder with llama.cpp (F32 KV cache) on the same tokens:
 * the base model, and the model with a LoRA adapter on all seven projections (random A and B, written by
 * writeLoraGguf). Returns the max probability gaps and how far the adapter moved llama.cpp's distributions.
 */
async function parity(name: string, options: TinyLlamaOptions): Promise<{ base: number; adapted: number; moved: number }> {
  const file = join(dir, `${name}.gguf`);
  const config = writeTinyLlamaGguf(file, options);
  const V = config.vocabSize;
  const r = new Rng(8);
  const tokens = [1, ...Array.from({ length: 23 }, () => r.int(3, V))];
  const store = new ParamStore(engine);
  const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file, { lora: { rank: 2, alpha: 3, targets: LLAMA_PROJECTIONS } });
  store.initialize(new Rng(0));
  const base = decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));
  for (const { a, b } of lm.params.lora.values()) {
    store.write(a, Float32Array.from({ length: a.numel }, () => 0.4 * r.normal()));
    store.write(b, Float32Array.from({ length: b.numel }, () => 0.4 * r.normal()));
  }
  const adapter = join(dir, `${name}.lora.gguf`);
  writeLoraGguf(adapter, store, lm);
  const adapted = decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));
  store.dispose();
  const cpp = await loadLlamaCppModel(file);
  try {
    const refBase = await llamaCppNextTokenProbabilities(cpp, tokens, V);
    const refAdapted = await llamaCppNextTokenProbabilities(cpp, tokens, V, { loraFile: adapter });
    return { base: maxGap(base, refBase), adapted: maxGap(adapted, refAdapted), moved: maxGap(refAdapted, refBase) };
  } finally {
    await cpp.dispose();
  }
}

describe("reclm's decoder equals llama.cpp on every llama-family kind it reads (next-token probabilities, every position)", () => {
  // F32 weights and KV cache on both sides: the gaps are float rounding (measured 1e-7 to 1e-6).
  const TOL = 2e-5;

  it("qwen2: NEOX rope, q/k/v biases, GQA (4 heads over 1 KV head), tied output; LoRA on biased projections adapts W only", async () => {
    const r = await parity("qwen2", { architecture: "qwen2", heads: 4, kvHeads: 1, tiedOutput: true, std: 0.3, seed: 11 });
    expect(r.base).toBeLessThan(TOL);
    expect(r.moved).toBeGreaterThan(1e-2);
    expect(r.adapted).toBeLessThan(TOL);
  }, 60_000);

  it("qwen3: per-head RMSNorm of queries and keys before rope, NEOX rope, no biases, head size != dim/heads, GQA, tied output", async () => {
    const r = await parity("qwen3", { architecture: "qwen3", dim: 24, heads: 4, kvHeads: 2, headDim: 8, tiedOutput: true, std: 0.3, seed: 14 });
    expect(r.base).toBeLessThan(TOL);
    expect(r.moved).toBeGreaterThan(1e-2);
    expect(r.adapted).toBeLessThan(TOL);
  }, 60_000);

  it("llama 3.x: rope_freqs per-frequency factors and linear rope scaling", async () => {
    const r = await parity("llama3", { ropeFreqs: [1, 3, 8, 20], ropeScalingFactor: 2, ropeBase: 500000, std: 0.3, seed: 12 });
    expect(r.base).toBeLessThan(TOL);
    expect(r.moved).toBeGreaterThan(1e-2);
    expect(r.adapted).toBeLessThan(TOL);
  }, 60_000);

  it("llama with a head size other than dim/heads (key_length/value_length) and optional biases", async () => {
    const r = await parity("headdim", { dim: 24, heads: 4, kvHeads: 2, headDim: 10, biases: ["o", "up", "down"], std: 0.3, seed: 13 });
    expect(r.base).toBeLessThan(TOL);
    expect(r.moved).toBeGreaterThan(1e-2);
    expect(r.adapted).toBeLessThan(TOL);
  }, 60_000);
});
