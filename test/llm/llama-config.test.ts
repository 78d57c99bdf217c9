import { describe, expect, it } from "vitest";
import { checkLlamaConfig, llamaConfigFromGguf, llamaTensorShapes, type LlamaConfig } from "../../src/llm/llama.ts";
import type { GgufHeader } from "../../src/llm/runtime.ts";

const FILE = "/models/m.gguf";

const LLAMA: LlamaConfig = {
  architecture: "llama",
  vocabSize: 40,
  dim: 32,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  ffnDim: 48,
  rmsEps: 1e-5,
  ropeBase: 10000,
  ropeDims: 8,
  ropeMode: "normal",
  freqScale: 1,
  ropeFreqs: false,
  biases: [],
  tiedOutput: false,
};

/** A header as readGgufHeader returns it: `{arch}.*` keys of `c` (plus `extra`), the tensors `c` implies. */
function header(c: LlamaConfig, extra: Record<string, unknown> = {}, tensors = [...llamaTensorShapes(c)].map(([name, shape]) => ({ name, shape }))): GgufHeader {
  const a = c.architecture;
  const metadata: Record<string, unknown> = {
    "general.architecture": a,
    [`${a}.embedding_length`]: c.dim,
    [`${a}.block_count`]: c.layers,
    [`${a}.feed_forward_length`]: c.ffnDim,
    [`${a}.attention.head_count`]: c.heads,
    [`${a}.attention.head_count_kv`]: c.kvHeads,
    [`${a}.attention.layer_norm_rms_epsilon`]: c.rmsEps,
    [`${a}.rope.freq_base`]: c.ropeBase,
    ...extra,
  };
  return { architecture: a, metadata, tensors: tensors.map((t, i) => ({ ...t, shape: [...t.shape], ggmlType: 0, fileOffset: 32 * i })) };
}

describe("llamaConfigFromGguf: the decoder's shape from any llama-family file's own keys", () => {
  it("reads llama, qwen2 and qwen3 under their own key prefix: rope layout, biases, q/k norms, head size, rope scaling, rope_freqs", () => {
    expect(llamaConfigFromGguf(header(LLAMA), FILE)).toEqual(LLAMA);
    const qwen: LlamaConfig = { ...LLAMA, architecture: "qwen2", ropeMode: "neox", biases: ["q", "k", "v"], tiedOutput: true, ropeBase: 1e6 };
    expect(llamaConfigFromGguf(header(qwen), FILE)).toEqual(qwen);
    // qwen3 (Qwen3-0.6B's layout): head size 128 from key_length with dim 1024 and 16 heads, per-head q/k norms, no biases
    const qwen3: LlamaConfig = { ...LLAMA, architecture: "qwen3", ropeMode: "neox", headDim: 16, ropeDims: 16, tiedOutput: true, ropeBase: 1e6, qkNorm: true };
    expect(llamaTensorShapes(qwen3).get("blk.1.attn_k_norm.weight")).toEqual([16]);
    expect(llamaConfigFromGguf(header(qwen3, { "qwen3.attention.key_length": 16, "qwen3.attention.value_length": 16 }), FILE)).toEqual(qwen3);
    // head size from key_length/value_length (SmolLM2 writes them), not dim / heads
    const wide: LlamaConfig = { ...LLAMA, headDim: 16, ropeDims: 16 };
    expect(llamaConfigFromGguf(header(wide, { "llama.attention.key_length": 16, "llama.attention.value_length": 16 }), FILE)).toEqual(wide);
    // Llama 3.x: rope_freqs.weight [ropeDims/2]; linear rope scaling: freq_scale = 1/factor
    const l3: LlamaConfig = { ...LLAMA, ropeFreqs: true, freqScale: 0.25 };
    expect(llamaConfigFromGguf(header(l3, { "llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": 4 }), FILE)).toEqual(l3);
    expect(llamaConfigFromGguf(header(LLAMA, { "llama.rope.scaling.type": "none", "llama.rope.scaling.factor": 4 }), FILE).freqScale).toBe(1);
    expect(llamaConfigFromGguf(header(LLAMA, { "llama.rope.scale_linear": 2 }), FILE).freqScale).toBe(0.5);
    // optional llama biases, whichever the file has
    const biased: LlamaConfig = { ...LLAMA, biases: ["o", "down"] };
    expect(llamaConfigFromGguf(header(biased), FILE)).toEqual(biased);
  });

  it("refuses what it would not run as the file means, naming the key or tensor", () => {
    const refuse = (h: GgufHeader) => expect(() => llamaConfigFromGguf(h, FILE));
    refuse({ ...header(LLAMA), architecture: "gemma2" }).toThrow(/field "general\.architecture": architecture "gemma2" is not supported/);
    // keys are read under the file's own architecture, never a hard-coded "llama."
    const qwen: LlamaConfig = { ...LLAMA, architecture: "qwen2", ropeMode: "neox", biases: ["q", "k", "v"] };
    const h = header(qwen);
    h.metadata = Object.fromEntries(Object.entries(h.metadata).map(([k, v]) => [k.replace(/^qwen2\./, "llama."), v]));
    refuse(h).toThrow(/lacks "qwen2\.embedding_length"/);
    // a tensor the decoder has no place for
    const stray = [...llamaTensorShapes(LLAMA)].map(([name, shape]) => ({ name, shape }));
    refuse(header(LLAMA, {}, [...stray, { name: "blk.0.attn_q_norm.weight", shape: [8] }])).toThrow(/tensor "blk\.0\.attn_q_norm\.weight" is not part of a llama model/);
    refuse(header(qwen, {}, [...[...llamaTensorShapes(qwen)].map(([name, shape]) => ({ name, shape })), { name: "rope_freqs.weight", shape: [4] }])).toThrow(/"rope_freqs\.weight" is not part of a qwen2/);
    refuse(header(qwen, {}, [...[...llamaTensorShapes(qwen)].map(([name, shape]) => ({ name, shape })), { name: "blk.0.attn_output.bias", shape: [32] }])).toThrow(/"blk\.0\.attn_output\.bias"/);
    // qwen2's q/k/v biases are required
    refuse(header(qwen, {}, [...llamaTensorShapes(qwen)].filter(([n]) => n !== "blk.1.attn_k.bias").map(([name, shape]) => ({ name, shape })))).toThrow(/lacks tensor "blk\.1\.attn_k\.bias"/);
    // an optional bias present in one layer only
    refuse(header(LLAMA, {}, [...stray, { name: "blk.0.ffn_up.bias", shape: [48] }])).toThrow(/lacks tensor "blk\.1\.ffn_up\.bias"/);
    refuse(header({ ...LLAMA, ropeFreqs: true }, {}, [...stray, { name: "rope_freqs.weight", shape: [8] }])).toThrow(/"rope_freqs\.weight" has shape \[8\], the metadata implies \[4\]/);
    refuse(header(LLAMA, { "llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 4 })).toThrow(/field "llama\.rope\.scaling\.type": rope scaling "yarn" is not supported/);
    refuse(header(LLAMA, { "llama.expert_count": 8 })).toThrow(/llama\.expert_count/);
    refuse(header(LLAMA, { "llama.attention.key_length": 16, "llama.attention.value_length": 8 })).toThrow(/key heads of 16 and value heads of 8/);
    refuse(header(LLAMA, { "llama.attention.head_count": [4, 4] })).toThrow(/"llama\.attention\.head_count" is a per-layer array/);
    refuse(header(LLAMA, { "llama.rope.dimension_count": 4 })).toThrow(/rope dimension count 4 differs from the head size 8/);
    refuse(header(LLAMA, {}, stray.filter((t) => t.name !== "blk.1.ffn_down.weight"))).toThrow(/lacks tensor "blk\.1\.ffn_down\.weight"/);
    // qwen3: its q/k norms are required, and it has no q/k/v biases (llama.cpp would leave them unread)
    const qwen3: LlamaConfig = { ...LLAMA, architecture: "qwen3", ropeMode: "neox", qkNorm: true };
    const qwen3Tensors = [...llamaTensorShapes(qwen3)].map(([name, shape]) => ({ name, shape }));
    refuse(header(qwen3, {}, qwen3Tensors.filter((t) => t.name !== "blk.0.attn_q_norm.weight"))).toThrow(/lacks tensor "blk\.0\.attn_q_norm\.weight"/);
    refuse(header(qwen3, {}, [...qwen3Tensors, { name: "blk.0.attn_q.bias", shape: [32] }])).toThrow(/"blk\.0\.attn_q\.bias" is not part of a qwen3 model/);
    expect(() => checkLlamaConfig({ ...qwen3, qkNorm: false })).toThrow(/qwen3 normalizes query and key heads \(qkNorm true\), the config says qkNorm false/);
    expect(() => checkLlamaConfig({ ...LLAMA, qkNorm: true })).toThrow(/llama does not normalize query and key heads/);
    // llama.cpp refuses a qwen2 whose heads do not span dim (attn_q is [dim, dim] there); llama and qwen3 take any head size
    expect(() => checkLlamaConfig({ ...LLAMA, architecture: "qwen2", ropeMode: "neox", biases: ["q", "k", "v"], headDim: 16, ropeDims: 16 })).toThrow(/qwen2 needs heads × head size = dim .*4 × 16 != 32/);
  });
});
