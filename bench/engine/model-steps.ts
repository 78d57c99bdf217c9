/**
 * CPU time of one training step of each model at its ml-latest-small paper preset (1 thread, min of 5 steps after a
 * warm-up), for before/after comparisons of engine changes (e.g. RECLM_ENGINE_OUT_PROD=native vs the default):
 *   RECLM_SHARED=/work/shared npx tsx bench/engine/model-steps.ts gru4rec narm caser bert4rec sasrec lrurec
 */
import { loadDataset } from "../../src/data/index.ts";
import { AdamW, Engine } from "../../src/engine/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { TrainStep } from "../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { Rng } from "../../src/rng.ts";
const ds = await loadDataset("ml-latest-small");
for (const name of process.argv.slice(2)) {
  const def = getNeuralModel(name);
  const { config } = resolveConfig(def, { preset: "ml-latest-small", config: { seed: 42 } });
  const engine = Engine.create({ threads: 1 });
  const model = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  const opt = new AdamW(model.store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
  const step = new TrainStep(def, model, opt, new Rng(43));
  const ex = buildExamples(ds, model.objective, config.maxLen);
  const B = config.batchSize;
  const batch = allocBatch(B, model.ctx.windowLen, model.objective);
  fillTrainBatch(batch, ds, ex, Int32Array.from({ length: B }, (_, i) => i), model.objective, config.maxLen, model.ctx.windowLen, new Rng(0));
  const cpu: number[] = [];
  let loss = 0;
  for (let s = 0; s < 6; s++) {
    const c0 = process.cpuUsage();
    loss = step.run(batch);
    const dc = process.cpuUsage(c0);
    if (s > 0) cpu.push((dc.user + dc.system) / 1000);
  }
  console.log(name, process.env.RECLM_ENGINE_OUT_PROD ?? "rewrite", "cpu min ms", Math.min(...cpu).toFixed(0), "loss", loss.toFixed(5));
  step.dispose(); opt.dispose(); model.dispose(); engine.dispose();
}
