// A trained run dir (from train-and-retrieve.mjs or `reclm train --out`) is a model: load it, check it against the
// data it is asked to score, evaluate it, and redraw its training curves.
//
//   node examples/load-run-dir.mjs [run dir]
import { fullRanking, loadDataset, metricsMeanOfBatchMeans, plotRun, readTrainReport, resolveModel } from "reclm";

const dir = process.argv[2] ?? "runs/example-lrurec";

// report.json says what the run was: model, dataset, preset, steps, the best validation and the test metrics.
const report = readTrainReport(dir);
console.log(`${report.model} on ${report.dataset}: ${report.steps} steps, best at step ${report.best?.step}`);

// A run dir resolves like a model name; it is refused on another dataset or split than it was trained on.
const ds = await loadDataset(report.dataset);
const model = await resolveModel(dir, ds, { split: "test" });
try {
  const test = await fullRanking(model, ds, { split: "test" });
  console.log(`test Recall@10 ${test.metrics["Recall@10"].toFixed(4)} (report.json: ${report.test.metrics["Recall@10"].toFixed(4)})`);
  // LlamaRec's table averages per batch of 16 users; the same ranks give that figure too.
  console.log(`mean of 16-user batch means: Recall@10 ${metricsMeanOfBatchMeans(test.ranks, [10], 16)["Recall@10"].toFixed(4)}`);
} finally {
  await model.dispose?.();
}
console.log(`redrew ${await plotRun(dir)}`);
