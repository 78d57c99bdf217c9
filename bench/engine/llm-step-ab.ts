/**
 * A/B of the decoder's LoRA training step (the step bench/llm-finetune.ts times: SmolLM2-135M shape, F32, LoRA q,v r 8,
 * one 1,536-token sequence, loss on its last 2 tokens; bench/lib/lora-step.ts) under several OUT_PROD rewrite
 * thresholds (DecoderGraphs' `outProducts`, default LLAMA_OUT_PRODUCTS; src/engine/outprod-rewrite.ts) or with the
 * last block's row path on and off (DecoderGraphs' `rowPath`). A list of length 1 applies to every variant. Each variant's
 * graphs are compiled in this one process and the variants' steps alternate, so machine drift hits them alike; list a
 * variant twice for a repeated control (the first-compiled variant has measured slower in such runs). Prints each
 * variant's step CPU times and their minimum; writes no result file.
 *   npx tsx bench/engine/llm-step-ab.ts [--thresholds 40,100,40] [--row-path on] [--reps 3] [--threads 1]
 *   npx tsx bench/engine/llm-step-ab.ts --thresholds 40 --row-path on,off,on
 */
import { parseArgs } from "node:util";
import { DecoderGraphs } from "../../src/llm/train/decoder-graphs.ts";
import { Rng } from "../../src/rng.ts";
import { loraStep } from "../lib/lora-step.ts";

const { values: args } = parseArgs({
  options: { thresholds: { type: "string", default: "40,100,40" }, "row-path": { type: "string", default: "on" }, reps: { type: "string", default: "3" }, threads: { type: "string", default: "1" } },
});
const thresholdList = args.thresholds!.split(",").map(Number);
const rowPathList = args["row-path"]!.split(",");
const reps = Number(args.reps);
if (!thresholdList.every((t) => t > 0) || !(Number.isInteger(reps) && reps > 0)) throw new Error("--thresholds must be positive numbers, --reps a positive integer");
if (!rowPathList.every((r) => r === "on" || r === "off")) throw new Error("--row-path takes on or off (a comma-separated list)");
const n = Math.max(thresholdList.length, rowPathList.length);
if ([thresholdList, rowPathList].some((l) => l.length !== 1 && l.length !== n)) throw new Error("--thresholds and --row-path must list as many variants, or one for all");
const pick = <T>(l: T[], i: number) => (l.length === 1 ? l[0] : l[i]);
const settings = Array.from({ length: n }, (_, i) => ({ minMacsPerCopy: pick(thresholdList, i), rowPath: pick(rowPathList, i) === "on" }));
const { decoder, optimizer, batch, dispose } = await loraStep({ threads: Number(args.threads) });
const variants = settings.map(({ minMacsPerCopy, rowPath }) => {
  const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(1), optimizer, outProducts: { minMacsPerCopy }, rowPath });
  graphs.trainStep([batch]); // compiles
  return graphs;
});
const cpuMs = settings.map(() => [] as number[]);
for (let r = 0; r < reps; r++) {
  variants.forEach((graphs, i) => {
    const c0 = process.cpuUsage();
    graphs.trainStep([batch]);
    const d = process.cpuUsage(c0);
    cpuMs[i].push((d.user + d.system) / 1000);
  });
}
settings.forEach((v, i) => console.log(`minMacsPerCopy ${String(v.minMacsPerCopy).padStart(4)}, row path ${v.rowPath ? "on " : "off"}: step CPU ms ${cpuMs[i].map((x) => x.toFixed(0)).join(" ")}  min ${Math.min(...cpuMs[i]).toFixed(0)}`));
for (const g of variants) g.dispose();
dispose();
