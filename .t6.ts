import { loadDataset, historyFor } from "./src/data/index.ts";
import { Engine } from "./src/engine/index.ts";
import { resolveConfig } from "./src/models/neural/config.ts";
import { NeuralRecommender } from "./src/models/neural/recommender.ts";
import { getNeuralModel } from "./src/models/registry.ts";
const ds = await loadDataset("embedded");
const engine = Engine.create({ threads: 1 });
for (const name of ["lrurec", "sasrec"]) {
  const def = getNeuralModel(name);
  const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 16, hidden: 16, evalBatchSize: 8, seed: 2 } });
  const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  console.log(name, "scoreAll"); await rec.scoreAll([historyFor(ds, 0, "test")]);
  console.log("items"); const it = rec.itemVectors(); console.log(it.dim);
  console.log("queries"); const q = rec.queryVectors([historyFor(ds, 0, "test")]); console.log(q.dim);
  rec.dispose();
}
