import { loadDataset } from "./src/data/index.ts";
import { trainModel } from "./src/models/neural/trainer.ts";
import { getNeuralModel } from "./src/models/registry.ts";
const ds = await loadDataset("embedded");
for (const model of ["sasrec", "lrurec"]) for (const cfg of [{}, { softmax: "sampled", negatives: 64 }]) for (const steps of [0, 100]) {
  const t = Date.now();
  const r = await trainModel(getNeuralModel(model), ds, { preset: "none", config: { maxLen: 20, hidden: 16, batchSize: 32, validateEvery: 50, epochs: 3, seed: 5, evalBatchSize: 256, lr: 3e-3, ...cfg }, threads: 1, maxSteps: steps, evalTest: false });
  console.log(model, JSON.stringify(cfg), steps, r.best.step, r.validations.map((v) => v.metrics["Recall@10"].toFixed(4)).join(" "), Date.now() - t, "ms");
  r.recommender.dispose();
}
