/**
 * Real small LMs' shapes (their config.json) for the LLM benchmarks, written as GGUF files with random weights by
 * reclm's own writer (no real weights exist on this machine; the benchmarks measure speed and memory, which depend on
 * the shapes only). One writer and one cache for bench/llm-inference.ts, bench/llm-memory.ts and
 * bench/llm-finetune.ts, so every LLM benchmark runs on the same bytes for the same (shape, weight type).
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { WeightTypeChoice } from "../../src/llm/gguf-model.ts";
import type { GgufTensorType } from "../../src/llm/gguf-writer.ts";
import type { LlamaArchitecture, LlamaConfig } from "../../src/llm/llama.ts";
import { readGgufHeader } from "../../src/llm/runtime.ts";
import { writeTinyLlamaGguf, type TinyLlamaOptions } from "../../src/llm/tiny-llama.ts";
import { cacheDir } from "../../src/paths.ts";

export interface LlmShape {
  architecture: LlamaArchitecture;
  options: TinyLlamaOptions;
}

/** SmolLM2-135M (llama) and Qwen2.5-0.5B (qwen2), with a byte-level BPE vocabulary padded to the real size. */
export const LLM_SHAPES: Record<string, LlmShape> = {
  "smollm2-135m-shape": {
    architecture: "llama",
    options: { vocabSize: 49152, dim: 576, layers: 30, heads: 9, kvHeads: 3, ffnDim: 1536, tiedOutput: true, ropeBase: 100000, contextLength: 8192, tokenizer: "bpe" },
  },
  "qwen2.5-0.5b-shape": {
    architecture: "qwen2",
    options: { vocabSize: 151936, dim: 896, layers: 24, heads: 14, kvHeads: 2, ffnDim: 4864, tiedOutput: true, ropeBase: 1000000, contextLength: 32768, tokenizer: "bpe" },
  },
};

export function llmShape(name: string): LlmShape {
  const shape = LLM_SHAPES[name];
  if (!shape) throw new Error(`unknown LLM shape "${name}" (known: ${Object.keys(LLM_SHAPES).join(", ")})`);
  return shape;
}

/** Writes `shape` with random weights (std 0.02, seed 1: the same values for every weight type) to `path`. */
export function writeShapeGguf(path: string, shapeName: string, weightType: WeightTypeChoice): LlamaConfig {
  const shape = llmShape(shapeName);
  return writeTinyLlamaGguf(path, { ...shape.options, architecture: shape.architecture, weightType, std: 0.02, seed: 1 });
}

/**
 * The shape's GGUF under <cache>/bench-llm/<shape>-<type>.gguf, written on first use and reused after (same seed,
 * same bytes; the benchmarks record its sha256). Refuses a file whose architecture is not the shape's (a writer that
 * cannot write that architecture yet).
 */
export async function cachedShapeGguf(shapeName: string, weightType: GgufTensorType): Promise<string> {
  const shape = llmShape(shapeName);
  const dir = join(cacheDir(), "bench-llm");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${shapeName}-${weightType}.gguf`);
  if (!existsSync(file)) {
    const t0 = performance.now();
    writeShapeGguf(file, shapeName, weightType);
    process.stderr.write(`wrote ${file} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const written = (await readGgufHeader(file)).architecture;
  if (written !== shape.architecture) {
    throw new Error(`${shapeName} needs a ${shape.architecture} GGUF, and reclm's writer (writeTinyLlamaGguf) wrote ${written}: it does not write ${shape.architecture} yet`);
  }
  return file;
}
