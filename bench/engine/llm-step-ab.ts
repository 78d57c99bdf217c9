/**
 * A/B of the decoder's LoRA training step (the step bench/llm-finetune.ts times: SmolLM2-135M shape, F32, LoRA q,v r 8,
 * one 1,536-token sequence, loss on its last 2 tokens; bench/lib/lora-step.ts) under several OUT_PROD rewrite
 * thresholds (DecoderGraphs' `outProducts`, default LLAMA_OUT_PRODUCTS; src/engine/outprod-rewrite.ts). Each variant's
 * graphs are compiled in this one process and the variants' steps alternate, so machine drift hits them alike; list a
 * variant twice for a repeated control (the first-compiled variant has measured slower in such runs). Prints each
 * variant's step CPU times and their minimum; writes no result file.
 *   npx tsx bench/engine/llm-step-ab.ts [--thresholds 40,100,40] [--reps 3] [--threads 1]
 */
import { parseArgs } from "node:util";
import { DecoderGraphs } from "../../src/llm/train/decoder-graphs.ts";
import { Rng } from "../../src/rng.ts";
import { loraStep } from "../lib/lora-step.ts";

const { values: args } = parseArgs({ options: { thresholds: { type: "string", default: "40,100,40" }, reps: { type: "string", default: "3" }, threads: { type: "string", default: "1" } } });
const thresholds = args.thresholds!.split(",").map(Number);
const reps = Number(args.reps);
if (!thresholds.every((t) => t > 0) || !(Number.isInteger(reps) && reps > 0)) throw new Error("--thresholds must be positive numbers, --reps a positive integer");
const { decoder, optimizer, batch, dispose } = await loraStep({ threads: Number(args.threads) });
const variants = thresholds.map((minMacsPerCopy) => {
  const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(1), optimizer, outProducts: { minMacsPerCopy } });
  graphs.trainStep([batch]); // compiles
  return graphs;
});
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
dispose();
