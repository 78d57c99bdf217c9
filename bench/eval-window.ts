/**
 * What a history's own window buys evaluation (bench/results/eval-window.json, protocol `score-all-users`): every
 * test history of a dataset scored by a retriever (scoreAll over all items, evalBatchSize at a time, users in the
 * dataset's order), through the model's whole window (method `whole-window`, how reclm scored before) and through the
 * shortest power-of-two window that holds each batch's longest history (method `own-window`, what a windowInvariant
 * model does now). Same model, same histories, same run; the scores agree to 1e-5 relative
 * (test/models/neural/window-invariance.test.ts), so this is speed only. Parameters are random (the forward's cost does
 * not depend on them): the dataset's preset config (maxLen, hidden, blocks), no training.
 * Metrics: `seconds` (best of --reps), `users_per_s`, and on the own-window row `speedup` (whole ÷ own).
 *
 *   npx tsx bench/eval-window.ts --datasets ml-latest-small,beauty --models lrurec,sasrec --threads 2 --reps 2
 */
import { parseArgs } from "node:util";
import { historyFor, loadDataset } from "../src/data/index.ts";
import { resolveConfig } from "../src/models/neural/config.ts";
import { NeuralRecommender } from "../src/models/neural/recommender.ts";
import { getNeuralModel } from "../src/models/registry.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    datasets: { type: "string", default: "ml-latest-small,beauty" },
    models: { type: "string", default: "lrurec,sasrec" },
    threads: { type: "string", default: "2" },
    reps: { type: "string", default: "2" },
    "no-write": { type: "boolean", default: false },
  },
});

const rows: BenchRow[] = [];
for (const dataset of args.datasets!.split(",")) {
  const ds = await loadDataset(dataset);
  const histories = ds.users.map((_, u) => historyFor(ds, u, "test"));
  const lengths = histories.map((h) => h.length).sort((a, b) => a - b);
  for (const name of args.models!.split(",")) {
    const def = getNeuralModel(name);
    const { config } = resolveConfig(def, { preset: dataset });
    const rec = new NeuralRecommender(def, config, ds.catalog.size, { threads: Number(args.threads) });
    try {
      const time = (window: number | undefined): number => {
        let best = Infinity;
        for (let r = 0; r < Number(args.reps); r++) {
          const t0 = performance.now();
          for (let s = 0; s < histories.length; s += config.evalBatchSize) rec.scoreAllSync(histories.slice(s, s + config.evalBatchSize), { window });
          best = Math.min(best, (performance.now() - t0) / 1000);
        }
        return best;
      };
      time(undefined); // compiles the graphs of every window the batches take
      const whole = time(rec.ctx.windowLen);
      const own = time(undefined);
      const variant = { model_config: `preset ${dataset}: maxLen ${config.maxLen}, hidden ${config.hidden}, evalBatchSize ${config.evalBatchSize}`, threads: Number(args.threads) };
      const notes = `${histories.length} test histories, length median ${lengths[lengths.length >> 1]}, p90 ${lengths[Math.floor(lengths.length * 0.9)]}; random parameters; best of ${args.reps}`;
      console.log(`${dataset} ${name}: whole window ${whole.toFixed(2)} s, own window ${own.toFixed(2)} s (${(whole / own).toFixed(2)}x)`);
      // LRURec's rows are the ones the README quotes.
      const shared = { dataset, protocol: "score-all-users", variant: { ...variant, model: name }, notes, ...(name === "lrurec" ? { headline: true } : {}) };
      rows.push({ method: "whole-window", ...shared, metrics: { seconds: whole, users_per_s: histories.length / whole } });
      rows.push({ method: "own-window", ...shared, metrics: { seconds: own, users_per_s: histories.length / own, speedup: whole / own } });
    } finally {
      rec.dispose();
    }
  }
}
if (!args["no-write"]) {
  writeBenchResult({
    benchmark: "eval-window",
    command: `npx tsx bench/eval-window.ts --datasets ${args.datasets} --models ${args.models} --threads ${args.threads} --reps ${args.reps}`,
    inputs: [],
    rows,
  });
}
