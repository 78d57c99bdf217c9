/**
 * SASRec retrieval quality under LlamaRec's protocol: full ranking on the test split, history masked, model selected on
 * validation Recall@10 (history NOT masked, LlamaRec's trainer), recipe presets (docs/model-recipes.md §1/§2).
 * Targets (anchors.md, LlamaRec's SASRec row, ML-100k = ml-latest-small): NDCG@10 >= .0522, Recall@10 >= .0993;
 * ML-1M (LRURec's SASRec row): NDCG@10 .1902, Recall@10 .3181.
 *
 *   npx tsx bench/sasrec-quality.ts [--dataset ml-latest-small] [--max-steps N] [--threads 2] [--resume | --force]
 * Trains into runs/sasrec-<dataset> (checkpointed after every validation: --resume continues a cut run) and writes
 * bench/results/sasrec-<dataset>.json. A run cut by --max-steps says so in its row's notes: such figures are NOT the
 * converged result.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { trainModel } from "../src/models/neural/trainer.ts";
import { PACKAGE_ROOT, sharedDir } from "../src/paths.ts";
import { SASRec } from "../src/models/sasrec.ts";
import { writeBenchResult } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    dataset: { type: "string", default: "ml-latest-small" },
    "max-steps": { type: "string" },
    threads: { type: "string", default: "2" },
    resume: { type: "boolean", default: false },
    force: { type: "boolean", default: false },
  },
});
const name = args.dataset!;
const ds = await loadDataset(name, { protocol: name === "ml-1m" ? "lrurec-preprocessed" : "llamarec" });
const def = findDataset(name);
const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
const inputs = def ? def.inputFiles(ds.protocol, { dataDir: folder }) : [];
const outDir = join(PACKAGE_ROOT, "runs", `sasrec-${name}`);
let last = 0;
const res = await trainModel(SASRec, ds, {
  outDir,
  resume: args.resume,
  overwrite: args.force,
  threads: Number(args.threads),
  maxSteps: args["max-steps"] !== undefined ? Number(args["max-steps"]) : undefined,
  onProgress: (p) => {
    const now = Date.now();
    if (now - last > 30_000 || p.done === p.total) {
      last = now;
      process.stderr.write(`${p.stage} ${p.done}/${p.total} ${JSON.stringify(p.info ?? {})}\n`);
    }
  },
});
try {
  const cut = res.stoppedBy === "maxSteps";
  writeBenchResult({
    benchmark: `sasrec-${name}`,
    command: `npx tsx bench/sasrec-quality.ts ${process.argv.slice(2).join(" ")}`.trim(),
    inputs,
    rows: [
      {
        method: "sasrec",
        dataset: name,
        protocol: "full-ranking",
        metrics: res.test!.metrics,
        seeds: 1,
        notes:
          `data protocol ${ds.protocol}; preset ${res.preset ?? "none"}; test split, history masked, ${res.test!.nUsers} users; ` +
          `best validation Recall@10 ${res.best.value.toFixed(4)} at step ${res.best.step}; ${res.steps} steps, ${res.epochs} epochs, ` +
          `stopped by ${res.stoppedBy}${cut ? " (CUT SHORT: not converged, not the paper's protocol length)" : ""}; ` +
          `${res.seconds.toFixed(0)} s training${res.resumedFromStep !== undefined ? ` (resumed from step ${res.resumedFromStep})` : ""}`,
      },
    ],
  });
} finally {
  res.recommender.dispose();
}
