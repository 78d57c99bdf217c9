/**
 * A/B of the decoder's LoRA training step (the step bench/llm-finetune.ts times: SmolLM2-135M shape, F32, LoRA q,v r 8,
 * one 1,536-token sequence, loss on its last 2 tokens) under several OUT_PROD rewrite thresholds
 * (`LLAMA_OUT_PRODUCTS.minMacsPerCopy`, src/engine/outprod-rewrite.ts). Each variant's graphs are compiled in this one
 * process and the variants' steps alternate, so machine drift hits them alike; list a variant twice for a repeated
 * control (the first-compiled variant has measured slower in such runs). Prints each variant's step CPU times and
 * their minimum; writes no result file.
 *   npx tsx bench/engine/llm-step-ab.ts [--thresholds 40,100,40] [--reps 3] [--threads 1]
 */
import { parseArgs } from "node:util";
import { AdamW } from "../../src/engine/index.ts";
import { LLAMA_OUT_PRODUCTS } from "../../src/llm/llama.ts";
import { packStep } from "../../src/llm/train/batches.ts";
import { DecoderGraphs } from "../../src/llm/train/decoder-graphs.ts";
import { openDecoder } from "../../src/llm/train/decoder.ts";
import { LLM_TRAIN_DEFAULTS } from "../../src/llm/train/trainer.ts";
import { Rng } from "../../src/rng.ts";
import { cachedShapeGguf, llmShape } from "../lib/llm-shapes.ts";

const { values: args } = parseArgs({ options: { thresholds: { type: "string", default: "40,100,40" }, reps: { type: "string", default: "3" }, threads: { type: "string", default: "1" } } });
const thresholds = args.thresholds!.split(",").map(Number);
const reps = Number(args.reps);
if (!thresholds.every((t) => t > 0) || !(Number.isInteger(reps) && reps > 0)) throw new Error("--thresholds must be positive numbers, --reps a positive integer");
const SHAPE = "smollm2-135m-shape";
const T = 1536;
const gguf = await cachedShapeGguf(SHAPE, "f32");
const V = llmShape(SHAPE).options.vocabSize!;
const decoder = await openDecoder(gguf, { lora: { rank: 8, alpha: 32, targets: ["q", "v"] }, threads: Number(args.threads) });
const c = LLM_TRAIN_DEFAULTS;
const optimizer = new AdamW(decoder.store, { lr: 1e-4, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, clipNorm: c.clipNorm });
const rng = new Rng(7);
const labelled = new Uint8Array(T).fill(1, T - 2);
const [batch] = packStep([{ tokens: Int32Array.from({ length: T }, () => rng.int(0, V)), labelled }], { microBatch: 1, lengthBucket: 32, maxLength: decoder.maxLength, vocabSize: V });
// The setting is read when a graph is compiled (its first step); a benchmark may set it per variant.
const setting = LLAMA_OUT_PRODUCTS as { minMacsPerCopy: number };
const initial = setting.minMacsPerCopy;
const variants = thresholds.map((t) => {
  setting.minMacsPerCopy = t;
  const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(1), optimizer });
  graphs.trainStep([batch]);
  return graphs;
});
setting.minMacsPerCopy = initial;
const cpuMs = thresholds.map(() => [] as number[]);
for (let r = 0; r < reps; r++) {
  variants.forEach((graphs, i) => {
    const c0 = process.cpuUsage();
    graphs.trainStep([batch]);
    const d = process.cpuUsage(c0);
    cpuMs[i].push((d.user + d.system) / 1000);
  });
}
thresholds.forEach((t, i) => console.log(`minMacsPerCopy ${String(t).padStart(4)}: step CPU ms ${cpuMs[i].map((x) => x.toFixed(0)).join(" ")}  min ${Math.min(...cpuMs[i]).toFixed(0)}`));
for (const g of variants) g.dispose();
optimizer.dispose();
decoder.dispose();
