import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { llamaFamilyGgufMetadata, writeLlamaFamilyGguf } from "../../src/llm/gguf-model.ts";
import { llamaConfigFromGguf, llamaTensorShapes } from "../../src/llm/llama.ts";
import { readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf, type TinyLlamaOptions } from "../../src/llm/tiny-llama.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-gguf-model-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("llama-family GGUF models written by reclm", () => {
  it("each kind reads back as the config it was written from (qwen2, qwen3, rope_freqs + linear scaling, head size != dim/heads, biases)", async () => {
    const kinds: Record<string, TinyLlamaOptions> = {
      qwen2: { architecture: "qwen2", heads: 4, kvHeads: 1, tiedOutput: true },
      qwen3: { architecture: "qwen3", dim: 24, heads: 4, kvHeads: 2, headDim: 8, tiedOutput: true },
      llama3: { ropeFreqs: [1, 1.5, 4, 8], ropeScalingFactor: 4, ropeBase: 500000 },
      headDim: { dim: 24, heads: 3, kvHeads: 1, headDim: 16 },
      biases: { biases: ["o", "gate", "down"], weightType: "f16" },
    };
    for (const [name, options] of Object.entries(kinds)) {
      const file = join(dir, `${name}.gguf`);
      const written = writeTinyLlamaGguf(file, options);
      const h = await readGgufHeader(file);
      expect(llamaConfigFromGguf(h, file), name).toEqual(written);
      expect(h.architecture).toBe(written.architecture);
    }
    const h = await readGgufHeader(join(dir, "headDim.gguf"));
    expect(h.metadata).toMatchObject({ "llama.attention.key_length": 16, "llama.attention.value_length": 16 });
    expect(h.tensors.find((t) => t.name === "blk.0.attn_q.weight")!.shape).toEqual([48, 24]);
    const l3 = await readGgufHeader(join(dir, "llama3.gguf"));
    expect(l3.metadata).toMatchObject({ "llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": 4 });
    expect(l3.tensors.find((t) => t.name === "rope_freqs.weight")).toMatchObject({ shape: [4], ggmlType: 0 });
    const biases = await readGgufHeader(join(dir, "biases.gguf"));
    expect(biases.tensors.find((t) => t.name === "blk.1.ffn_gate.bias")).toMatchObject({ shape: [64], ggmlType: 0 }); // vectors stay F32
    expect(biases.tensors.find((t) => t.name === "blk.1.ffn_gate.weight")!.ggmlType).toBe(1);
  });

  it("writes the keys under the model's own architecture, and only the optional ones its config needs", () => {
    const qwen = writeTinyLlamaGguf(join(dir, "q.gguf"), { architecture: "qwen2" });
    const m = llamaFamilyGgufMetadata(qwen, { contextLength: 4096 });
    expect(Object.keys(m).filter((k) => k.startsWith("llama."))).toEqual([]);
    expect(m["qwen2.context_length"]).toEqual({ type: "u32", value: 4096 });
    expect(m).not.toHaveProperty("qwen2.attention.key_length");
    expect(m).not.toHaveProperty("qwen2.rope.scaling.type");
    expect(() => llamaFamilyGgufMetadata({ ...qwen, ropeMode: "normal" })).toThrow(/qwen2 uses neox rope/);
    expect(() => llamaFamilyGgufMetadata({ ...qwen, biases: ["q", "k"] })).toThrow(/requires the attn_v bias/);
  });

  it("refuses a tensor set that is not the config's, naming the tensor", () => {
    const config = writeTinyLlamaGguf(join(dir, "base.gguf"), { layers: 1 });
    const tensors = new Map([...llamaTensorShapes(config)].map(([n, s]) => [n, new Float32Array(s.reduce((a, b) => a * b, 1))]));
    const file = join(dir, "bad.gguf");
    const without = new Map(tensors);
    without.delete("blk.0.ffn_up.weight");
    expect(() => writeLlamaFamilyGguf(file, config, without, {})).toThrow(/tensor "blk\.0\.ffn_up\.weight" is missing/);
    expect(() => writeLlamaFamilyGguf(file, config, new Map([...tensors, ["blk.0.attn_q_norm.weight", new Float32Array(8)]]), {})).toThrow(/"blk\.0\.attn_q_norm\.weight" is not part of a llama model/);
    expect(() => writeLlamaFamilyGguf(file, config, new Map([...tensors, ["blk.0.attn_q.weight", new Float32Array(5)]]), {})).toThrow(/"blk\.0\.attn_q\.weight": shape \[32,32\] does not hold 5 values/);
    expect(() => writeLlamaFamilyGguf(file, config, tensors, { "llama.block_count": { type: "u32", value: 9 } })).toThrow(/"llama\.block_count" is not a tokenizer\.\* key/);
  });
});
