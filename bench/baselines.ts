/**
 * Training-free baselines (pop, cooc) under full ranking: test split, history masked, per-user mean of
 * Recall/NDCG/MRR @5/10/20. Run from the project root:  npx tsx bench/baselines.ts
 * Writes bench/results/baselines.json (check with ../shared/tools/check-bench-results).
 * A dataset whose files are absent here is skipped and named, never silently dropped.
 */
import { datasetStats, loadDataset, listDatasets } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { fullRanking } from "../src/eval/full-ranking.ts";
import { createBaseline } from "../src/models/registry.ts";
import { sharedDir } from "../src/paths.ts";
import { join } from "node:path";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const TARGETS = [
  { dataset: "ml-latest-small", protocol: "llamarec" },
  { dataset: "ml-100k", protocol: "llamarec" },
  { dataset: "embedded", protocol: undefined },
];
const METHODS = ["pop", "cooc"];
const KS = [5, 10, 20];

const rows: BenchRow[] = [];
const inputs: string[] = [];
const skipped: string[] = [];
const available = new Map(listDatasets().map((d) => [d.name, d.available]));

for (const t of TARGETS) {
  if (!available.get(t.dataset)) {
    skipped.push(t.dataset);
    process.stderr.write(`skipping ${t.dataset}: its files are not available on this machine\n`);
    continue;
  }
  const ds = await loadDataset(t.dataset, { protocol: t.protocol });
  const def = findDataset(t.dataset);
  const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
  if (def) inputs.push(...def.inputFiles(ds.protocol, { dataDir: folder }));
  const stats = datasetStats(ds);
  for (const method of METHODS) {
    const started = performance.now();
    const model = createBaseline(method, ds, { split: "test" });
    const report = await fullRanking(model, ds, { split: "test", ks: KS, maskHistory: true });
    const seconds = (performance.now() - started) / 1000;
    rows.push({
      method,
      dataset: ds.name,
      protocol: "full-ranking",
      metrics: report.metrics,
      notes:
        `data protocol ${ds.protocol}; test split (input train+val), history masked, pessimistic ties, per-user mean over ` +
        `${report.nUsers} users (${stats.items} items); counts from train+val; ${seconds.toFixed(2)}s incl. fitting`,
    });
    process.stderr.write(`${method} on ${ds.name} (${ds.protocol}): ${seconds.toFixed(2)}s\n`);
  }
}

writeBenchResult({ benchmark: "baselines", command: "npx tsx bench/baselines.ts", inputs, rows });
if (skipped.length) process.stdout.write(`skipped (files absent here): ${skipped.join(", ")}\n`);
