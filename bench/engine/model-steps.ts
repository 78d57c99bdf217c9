/**
 * CPU time of one training step of each model at its ml-latest-small paper preset (1 thread, min of 5 steps after a
 * warm-up), for before/after comparisons of engine changes (e.g. RECLM_ENGINE_OUT_PROD=native vs the default):
 *   RECLM_SHARED=/work/shared npx tsx bench/engine/model-steps.ts gru4rec narm caser bert4rec sasrec lrurec
 */
import { loadDataset } from "../../src/data/index.ts";
import { fixedTrainStep } from "./fixed-step.ts";

const ds = await loadDataset("ml-latest-small");
for (const name of process.argv.slice(2)) {
  const { step, batch, dispose } = fixedTrainStep(ds, name, { preset: "ml-latest-small", threads: 1 });
  const cpu: number[] = [];
  let loss = 0;
  for (let s = 0; s < 6; s++) {
    const c0 = process.cpuUsage();
    loss = step.run(batch);
    const dc = process.cpuUsage(c0);
    if (s > 0) cpu.push((dc.user + dc.system) / 1000);
  }
  console.log(name, process.env.RECLM_ENGINE_OUT_PROD ?? "rewrite", "cpu min ms", Math.min(...cpu).toFixed(0), "loss", loss.toFixed(5));
  dispose();
}
