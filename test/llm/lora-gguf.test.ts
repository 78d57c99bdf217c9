import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore } from "../../src/engine/index.ts";
import { declareLlamaFromGguf, type LlamaModel, type LoraOptions } from "../../src/llm/llama.ts";
import { readLoraGguf, writeLoraGguf } from "../../src/llm/lora-gguf.ts";
import { llamaCppNextTokenProbabilities, loadLlamaCppModel, readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { Rng } from "../../src/rng.ts";
import { decoderLogProbs } from "../helpers/decoder.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-lora-gguf-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const LORA: LoraOptions = { rank: 2, alpha: 6, targets: ["q", "v", "down"] };

async function declare(file: string, lora: LoraOptions = LORA): Promise<{ store: ParamStore; lm: LlamaModel }> {
  const store = new ParamStore(engine);
  const lm = declareLlamaFromGguf(store, await readGgufHeader(file), file, { lora });
  store.initialize(new Rng(0));
  return { store, lm };
}

describe("LoRA adapters as llama.cpp GGUF adapter files", () => {
  it("an adapter reclm writes changes llama.cpp's distributions exactly as reclm's forward predicts; it reads back", async () => {
    const base = join(dir, "base.gguf");
    const config = writeTinyLlamaGguf(base, { seed: 9 });
    const { store, lm } = await declare(base);
    // trained-looking factors: B != 0, so the adapter really changes the model
    const r = new Rng(4);
    for (const { a, b } of lm.params.lora.values()) {
      store.write(a, Float32Array.from({ length: a.numel }, () => 0.5 * r.normal()));
      store.write(b, Float32Array.from({ length: b.numel }, () => 0.5 * r.normal()));
    }
    const adapter = join(dir, "adapter.gguf");
    writeLoraGguf(adapter, store, lm);
    const tokens = [1, ...Array.from({ length: 15 }, () => r.int(3, config.vocabSize))];
    const ours = decoderLogProbs(engine, store, lm, tokens).map((row) => row.map(Math.exp));

    const cpp = await loadLlamaCppModel(base, { threads: 1 });
    try {
      const plain = await llamaCppNextTokenProbabilities(cpp, tokens, config.vocabSize);
      const adapted = await llamaCppNextTokenProbabilities(cpp, tokens, config.vocabSize, { loraFile: adapter });
      let gap = 0, moved = 0;
      for (let t = 0; t < tokens.length; t++) {
        for (let i = 0; i < config.vocabSize; i++) {
          gap = Math.max(gap, Math.abs(adapted[t][i] - ours[t][i]));
          moved = Math.max(moved, Math.abs(adapted[t][i] - plain[t][i]));
        }
      }
      expect(moved).toBeGreaterThan(1e-2); // the adapter does something in llama.cpp...
      expect(gap).toBeLessThan(2e-5); // ...exactly what it does in reclm (F32 weights, F32 KV cache)
    } finally {
      await cpp.dispose();
    }

    // read back into a fresh decoder: the same factors, the same distributions
    const again = await declare(base);
    await readLoraGguf(adapter, again.store, again.lm);
    for (const [key, { a, b }] of lm.params.lora) {
      const other = again.lm.params.lora.get(key)!;
      expect(Array.from(again.store.read(other.a))).toEqual(Array.from(store.read(a)));
      expect(Array.from(again.store.read(other.b))).toEqual(Array.from(store.read(b)));
    }
    // an adapter that does not fit the declared LoRA is refused, naming the file and what differs
    const otherAlpha = await declare(base, { ...LORA, alpha: 8 });
    await expect(readLoraGguf(adapter, otherAlpha.store, otherAlpha.lm)).rejects.toThrow(/adapter\.gguf.*alpha 6 differs from the model's 8/);
    const otherRank = await declare(base, { ...LORA, rank: 3 });
    await expect(readLoraGguf(adapter, otherRank.store, otherRank.lm)).rejects.toThrow(/has shape \[2,32\], the model's is \[3,32\]/);
    const fewer = await declare(base, { ...LORA, targets: ["q", "v"] });
    await expect(readLoraGguf(adapter, fewer.store, fewer.lm)).rejects.toThrow(/adapts matrices the model has no LoRA for: blk\.0\.ffn_down/);
    await expect(readLoraGguf(base, fewer.store, fewer.lm)).rejects.toThrow(/not a LoRA adapter/);
    for (const s of [store, again.store, otherAlpha.store, otherRank.store, fewer.store]) s.dispose();
  }, 60_000);
});
