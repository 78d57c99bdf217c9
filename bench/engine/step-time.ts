/**
 * CPU and wall time of the trainer's real training step (ML-1M, B 128 × L 200, dropout 0.2, full CE, AdamW), one
 * model per process. For before/after comparisons run two checkouts alternately (the machine is shared: compare
 * CPU-time minima, which load barely moves with 1 thread):
 *   RECLM_SHARED=/work/shared npx tsx bench/engine/step-time.ts --model sasrec [--threads 1] [--steps 4]
 * Prints one JSON line.
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/data/index.ts";
import { fixedTrainStep, ml1mStepConfig } from "./fixed-step.ts";

const { values: args } = parseArgs({ options: { model: { type: "string", default: "sasrec" }, threads: { type: "string", default: "1" }, steps: { type: "string", default: "4" } } });
const name = args.model!;
const ds = await loadDataset("ml-1m", { protocol: "lrurec-preprocessed" });
const { step, batch, dispose } = fixedTrainStep(ds, name, { preset: "ml-1m", config: ml1mStepConfig(name), threads: Number(args.threads) });
const cpu: number[] = [], wall: number[] = [], losses: number[] = [];
for (let s = 0; s <= Number(args.steps); s++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  losses.push(step.run(batch));
  const dc = process.cpuUsage(c0);
  if (s > 0) (cpu.push((dc.user + dc.system) / 1000), wall.push(performance.now() - t0));
}
console.log(JSON.stringify({ model: name, cpu_min_ms: Math.round(Math.min(...cpu)), wall_min_ms: Math.round(Math.min(...wall)), losses: losses.map((l) => +l.toFixed(5)), load: +(await import("node:os")).loadavg()[0].toFixed(2) }));
dispose();
