/**
 * CPU and wall time of the trainer's real training step (ML-1M, B 128 × L 200, dropout 0.2, full CE, AdamW), one
 * model per process. For before/after comparisons run two checkouts alternately (the machine is shared: compare
 * CPU-time minima, which load barely moves with 1 thread):
 *   RECLM_SHARED=/work/shared npx tsx bench/engine/step-time.ts --model sasrec [--threads 1] [--steps 4]
 * Prints one JSON line.
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/data/index.ts";
import { AdamW, Engine } from "../../src/engine/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { TrainStep } from "../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { Rng } from "../../src/rng.ts";

const { values: args } = parseArgs({ options: { model: { type: "string", default: "sasrec" }, threads: { type: "string", default: "1" }, steps: { type: "string", default: "4" } } });
const name = args.model!;
const ds = await loadDataset("ml-1m", { protocol: "lrurec-preprocessed" });
const def = getNeuralModel(name);
const { config } = resolveConfig(def, {
  preset: "ml-1m",
  config: { batchSize: 128, maxLen: 200, dropout: 0.2, ...(name === "sasrec" ? { attnDropout: 0.2 } : { lruDropout: 0.2 }), seed: 42 },
});
const engine = Engine.create({ threads: Number(args.threads) });
const model = new NeuralRecommender(def, config, ds.catalog.size, { engine });
const opt = new AdamW(model.store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
const step = new TrainStep(def, model, opt, new Rng(43));
const ex = buildExamples(ds, model.objective, config.maxLen);
const batch = allocBatch(128, model.ctx.windowLen, model.objective);
fillTrainBatch(batch, ds, ex, Int32Array.from({ length: 128 }, (_, i) => i), model.objective, config.maxLen, model.ctx.windowLen, new Rng(0));
const cpu: number[] = [], wall: number[] = [], losses: number[] = [];
for (let s = 0; s <= Number(args.steps); s++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  losses.push(step.run(batch));
  const dc = process.cpuUsage(c0);
  if (s > 0) (cpu.push((dc.user + dc.system) / 1000), wall.push(performance.now() - t0));
}
console.log(JSON.stringify({ model: name, cpu_min_ms: Math.round(Math.min(...cpu)), wall_min_ms: Math.round(Math.min(...wall)), losses: losses.map((l) => +l.toFixed(5)), load: +(await import("node:os")).loadavg()[0].toFixed(2) }));
step.dispose();
opt.dispose();
model.dispose();
engine.dispose();
