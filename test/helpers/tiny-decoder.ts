import type { ParamStore } from "../../src/engine/index.ts";
import { declareLlama, type DeclareLlamaOptions, type LlamaConfig, type LlamaModel } from "../../src/llm/llama.ts";
import { Rng } from "../../src/rng.ts";

/** A small decoder config of each architecture, for tests that need no file (values as a GGUF would hold them). */
export const TINY_CONFIGS: Record<"llama3" | "qwen2" | "qwen3", LlamaConfig> = {
  llama3: {
    architecture: "llama",
    vocabSize: 23,
    dim: 16,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 6,
    ffnDim: 24,
    rmsEps: 1e-5,
    ropeBase: 10000,
    ropeDims: 6,
    ropeMode: "normal",
    freqScale: 0.5,
    ropeFreqs: true,
    biases: [],
    tiedOutput: false,
  },
  qwen2: {
    architecture: "qwen2",
    vocabSize: 23,
    dim: 16,
    layers: 2,
    heads: 4,
    kvHeads: 1,
    headDim: 4,
    ffnDim: 24,
    rmsEps: 1e-6,
    ropeBase: 1e6,
    ropeDims: 4,
    ropeMode: "neox",
    freqScale: 1,
    ropeFreqs: false,
    biases: ["q", "k", "v"],
    tiedOutput: true,
  },
  qwen3: {
    architecture: "qwen3",
    vocabSize: 23,
    dim: 16,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    ffnDim: 24,
    rmsEps: 1e-6,
    ropeBase: 1e6,
    ropeDims: 8,
    ropeMode: "neox",
    freqScale: 1,
    ropeFreqs: false,
    biases: [],
    tiedOutput: true,
    qkNorm: true,
  },
};

/** Declares `config` in `store` with seeded random weights (norms 1 + noise, rope factors in [1, 4]). */
export function declareRandomLlama(store: ParamStore, config: LlamaConfig, seed: number, options: DeclareLlamaOptions = {}): LlamaModel {
  const rng = new Rng(seed);
  return declareLlama(
    store,
    config,
    (name, shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      if (name === "rope_freqs.weight") return Float32Array.from({ length: n }, () => 1 + 3 * rng.next());
      const norm = name.endsWith("norm.weight");
      return Float32Array.from({ length: n }, () => (norm ? 1 + 0.1 * rng.normal() : 0.4 * rng.normal()));
    },
    options,
  );
}
