// Evaluate the training-free baselines on your own interaction log: a CSV with user, item and timestamp columns
// (other names for them work too: user_id, item_id, movieId, time, date, ...), plus an optional items file whose
// titles the recommendations can be shown with.
//
//   node examples/evaluate-csv.mjs [interactions.csv] [items.csv]
import { fileURLToPath } from "node:url";
import { BASELINE_NAMES, createBaseline, datasetStats, formatMetricsTable, fullRanking, loadDataset } from "reclm";

const sample = (file) => fileURLToPath(new URL(`./data/${file}`, import.meta.url));
const interactions = process.argv[2] ?? sample("purchases.csv");
const items = process.argv[3] ?? (process.argv[2] ? undefined : sample("items.csv"));

// "custom" is your own data; the protocol decides the filtering (lrurec: drop immediate repeats, 5-core) before the
// leave-one-out split: each user's last item is the test target, the one before it the validation target.
const ds = await loadDataset("custom", { interactions, items, protocol: "lrurec" });
const stats = datasetStats(ds);
console.log(`${stats.users} users, ${stats.items} items, ${stats.interactions} interactions after the ${ds.protocol} protocol`);

// Full ranking on the test split: every item scored, each user's history masked. A baseline is built for the split
// it will score, from what that split's inputs may see (no test item leaks into its counts).
const rows = [];
for (const name of BASELINE_NAMES) {
  const model = createBaseline(name, ds, { split: "test" });
  const report = await fullRanking(model, ds, { split: "test", ks: [5, 10] });
  rows.push({ method: name, metrics: report.metrics });
}
console.log(formatMetricsTable(rows));
