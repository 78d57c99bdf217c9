// Train LRURec (the retriever LlamaRec re-ranks) on the embedded dataset, then get candidates from code: every test
// user's top-20 (what `reclm retrieve` writes), and recommendations for a history given as titles.
//
//   node examples/train-and-retrieve.mjs [run dir] [max steps]
import { CatalogLookup, LRURec, loadDataset, retrievalRecords, retrieveTopK, TopKRecommender, trainModel } from "reclm";

const outDir = process.argv[2] ?? "runs/example-lrurec";
const maxSteps = Number(process.argv[3] ?? 400);

const ds = await loadDataset("embedded");
// The dataset's preset (here: reclm's own for the embedded data), validation every few steps with early stopping,
// checkpoints and training.svg in outDir. `overwrite` starts over in a run dir that already holds a run;
// `resume: true` would continue it instead. Training here runs in this process; `trainInChild` runs it in a child
// process (a native crash then becomes an error instead of ending yours).
const run = await trainModel(LRURec, ds, { outDir, maxSteps, threads: 1, overwrite: true });
try {
  console.log(`trained ${run.steps} steps (stopped by ${run.stoppedBy}); best validation Recall@10 ${run.best.metrics["Recall@10"].toFixed(4)} at step ${run.best.step}`);
  console.log(`test Recall@10 ${run.test.metrics["Recall@10"].toFixed(4)}; run dir ${outDir}`);

  // Top-20 per test user, history masked, with the held-out item and whether it made the list.
  const retrieval = await retrieveTopK(run.recommender, ds, "test", 20);
  const records = retrievalRecords(ds, retrieval);
  const hits = records.filter((r) => r.hit).length;
  console.log(`top-20 holds the test item for ${hits} of ${records.length} users; user ${records[0].user}: ${records[0].candidateIds.slice(0, 5).join(", ")}, ...`);

  // A history as titles in, titles out (unknown or ambiguous titles are an error naming them).
  const lookup = new CatalogLookup(ds.catalog);
  const titles = Array.from(ds.train[0].slice(-3), (id) => ds.catalog.items[id].title);
  const recommended = await new TopKRecommender(run.recommender).recommend(Int32Array.from(titles, (t) => lookup.byTitleOrThrow(t)), { k: 5 });
  console.log(`after ${titles.join(" / ")}: ${recommended.map((r) => ds.catalog.items[r.item].title).join(" / ")}`);
} finally {
  run.recommender.dispose(); // frees the model's native (ggml) memory
}
