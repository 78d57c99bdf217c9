import { loadDataset } from "../../src/data/index.ts";
import { AdamW, Engine } from "../../src/engine/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../src/models/neural/examples.ts";
import { NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { TrainStep } from "../../src/models/neural/train-step.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { Rng } from "../../src/rng.ts";
const ds = await loadDataset("ml-1m", { protocol: "lrurec-preprocessed" });
const def = getNeuralModel("lrurec");
const { config } = resolveConfig(def, { preset: "ml-1m", config: { seed: 42 } });
for (const pack of [true, false]) {
  const engine = Engine.create({ threads: 2 });
  const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  const opt = new AdamW(rec.store, { lr: 1e-3 });
  const step = new TrainStep(def, rec, opt, new Rng(43), { pack });
  const ex = buildExamples(ds, rec.objective, config.maxLen);
  const order = new Rng(1).shuffle(Int32Array.from({ length: ex.length }, (_, i) => i)) as Int32Array;
  const b = allocBatch(config.batchSize, rec.ctx.windowLen, rec.objective);
  const graphs = (step as unknown as { graphs: Map<string, object> }).graphs;
  let compiles = 0, tRun = 0, tFill = 0;
  const shapes = new Set<string>();
  for (let s = 0; s < 40; s++) {
    let t = performance.now();
    fillTrainBatch(b, ds, ex, order.subarray(s * 128, (s + 1) * 128), rec.objective, config.maxLen, rec.ctx.windowLen, new Rng(s));
    tFill += performance.now() - t;
    const before = new Map(graphs);
    t = performance.now();
    step.run(b, new Rng(s));
    tRun += performance.now() - t;
    const key = `${step.lastEncoderRows}x${step.lastRows}`;
    shapes.add(key);
    if (before.get(key) !== graphs.get(key)) compiles++;
  }
  console.log(`pack ${pack}: ${shapes.size} shapes, ${compiles} compiles in 40 steps, run ${(tRun / 40).toFixed(0)} ms/step, fill ${(tFill / 40).toFixed(1)} ms/step`);
  step.dispose(); opt.dispose(); rec.dispose(); engine.dispose();
}
