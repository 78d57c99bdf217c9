/**
 * The decoder's LoRA training step that bench/llm-finetune.ts times, set up for the engine benchmarks that look inside
 * it (bench/engine/llm-step-profile.ts, llm-step-ab.ts): the SmolLM2-135M shape's GGUF, LoRA q,v r 8 alpha 32, AdamW
 * with the trainer's defaults (lr 1e-4), and one micro-batch of seeded random sequences, the loss on each one's last
 * 2 tokens (`labels: "last2"`) or on every token after the first (`"all"`).
 */
import { AdamW } from "../../src/engine/index.ts";
import type { GgufTensorType } from "../../src/llm/gguf-writer.ts";
import { packStep, type MicroBatch } from "../../src/llm/train/batches.ts";
import { openDecoder, type OpenDecoder } from "../../src/llm/train/decoder.ts";
import { LLM_TRAIN_DEFAULTS } from "../../src/llm/train/trainer.ts";
import { Rng } from "../../src/rng.ts";
import { cachedShapeGguf, llmShape } from "./llm-shapes.ts";

export const LORA_STEP_SHAPE = "smollm2-135m-shape";

export interface LoraStepSetup {
  decoder: OpenDecoder;
  optimizer: AdamW;
  batch: MicroBatch;
  dispose(): void;
}

export async function loraStep(o: { threads: number; seqLen?: number; microBatch?: number; labels?: "last2" | "all"; weightType?: GgufTensorType }): Promise<LoraStepSetup> {
  const T = o.seqLen ?? 1536;
  const mb = o.microBatch ?? 1;
  const gguf = await cachedShapeGguf(LORA_STEP_SHAPE, o.weightType ?? "f32");
  const V = llmShape(LORA_STEP_SHAPE).options.vocabSize!;
  const decoder = await openDecoder(gguf, { lora: { rank: 8, alpha: 32, targets: ["q", "v"] }, threads: o.threads });
  const c = LLM_TRAIN_DEFAULTS;
  const optimizer = new AdamW(decoder.store, { lr: 1e-4, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, clipNorm: c.clipNorm });
  const rng = new Rng(7);
  const labelled = new Uint8Array(T);
  if (o.labels === "all") labelled.fill(1, 1);
  else labelled.fill(1, T - 2);
  const examples = Array.from({ length: mb }, () => ({ tokens: Int32Array.from({ length: T }, () => rng.int(0, V)), labelled }));
  const [batch] = packStep(examples, { microBatch: mb, lengthBucket: 32, maxLength: decoder.maxLength, vocabSize: V });
  return {
    decoder,
    optimizer,
    batch,
    dispose: () => {
      optimizer.dispose();
      decoder.dispose();
    },
  };
}
