/**
 * LlamaRec's quality on a dataset (anchors.md §1.3): a fine-tuned ranker run dir (`reclm finetune llamarec --out`),
 * evaluated on the test split: the retriever alone, the base LLM zero-shot and the fine-tuned ranker, on the
 * valid-retrieval subset and overall, R/N/M@1/5/10. Every row names the LLM file and its sha256.
 *
 *   npx tsx bench/llamarec.ts --dataset ml-latest-small --ranker /work/runs/llamarec-mls [--threads 2] [--parallel 4]
 *
 * Writes bench/results/llamarec-<dataset>.json. The paper's lift (LlamaRec over its own LRURec, overall NDCG@10):
 * +7.7% on ML-100k (.0705 -> .0759), +3.9% on Beauty (.0533 -> .0554); each fine-tuned row carries its own lift.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import { evaluateLlamaRec } from "../src/methods/llamarec/evaluate.ts";
import { checkRunDataset, RANKER_REPORT_JSON, rankerSpecsOf } from "../src/methods/llamarec/run.ts";
import { sha256File } from "../src/io.ts";
import { sharedDir } from "../src/paths.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: a } = parseArgs({ options: { dataset: { type: "string" }, ranker: { type: "string" }, threads: { type: "string" }, parallel: { type: "string" } } });
if (!a.dataset || !a.ranker) throw new Error("usage: bench/llamarec.ts --dataset <name> --ranker <run dir> [--threads n] [--parallel n]");
const ds = await loadDataset(a.dataset);
const { run, specs } = rankerSpecsOf(a.ranker);
checkRunDataset(run, a.ranker, ds);
const started = performance.now();
const ev = await evaluateLlamaRec({ ds, retriever: run.retriever, rankers: specs, split: "test", threads: a.threads ? Number(a.threads) : undefined, parallel: a.parallel ? Number(a.parallel) : undefined });
const seconds = (performance.now() - started) / 1000;
const sha = sha256File(run.llm.file);
const rows: BenchRow[] = [];
const ks = ["Recall", "NDCG", "MRR"].flatMap((m) => [1, 5, 10].map((k) => `${m}@${k}`));
const pick = (m: Record<string, number>) => Object.fromEntries(ks.map((k) => [k, m[k]]));
const r0 = ev.results[0];
// What the fine-tuning saw: its steps x batch of the (sampled) example set, and the step validation selected.
const report = JSON.parse(readFileSync(join(a.ranker, RANKER_REPORT_JSON), "utf8")) as { steps: number; stoppedBy: string; best: { step: number }; examples: { used: number; total: number } };
const seen = Math.min(report.steps * run.config.batchSize, report.examples.used);
const trained = `${report.steps} steps of ${run.config.batchSize} (${seen} of ${report.examples.total} examples seen, stopped by ${report.stoppedBy}), adapter of step ${report.best.step} (best validation NDCG@10)`;
const lrurecName = "lrurec";
for (const [protocol, metrics, users] of [["llamarec-subset", r0.subset.retriever, r0.nSubset], ["llamarec-overall", r0.overall.retriever, r0.nTotal]] as const) {
  rows.push({ method: lrurecName, dataset: ds.name, protocol, metrics: pick(metrics), headline: true, notes: `the retriever alone (${run.retriever}), ${users} users, test split` });
}
ev.results.forEach((r, i) => {
  const base = { llm: run.llm.file, llm_sha256: sha, adapter: specs[i].adapter ?? null, ms_per_user: ev.secondsPerUser[i] * 1000 };
  for (const [protocol, metrics, users, retr] of [["llamarec-subset", r.subset.ranker, r.nSubset, r.subset.retriever], ["llamarec-overall", r.overall.ranker, r.nTotal, r.overall.retriever]] as const) {
    const lift = retr["NDCG@10"] > 0 ? metrics["NDCG@10"] / retr["NDCG@10"] - 1 : 0;
    rows.push({
      method: r.ranker,
      dataset: ds.name,
      protocol,
      metrics: { ...pick(metrics), ndcg10_lift_over_lrurec: lift },
      headline: true,
      ...base,
      notes: `${users} users; the retriever's top-20 re-ordered by the verbalizer on llama.cpp; fine-tuning: ${trained}, config in the run dir's config.json`,
    });
  }
});
const def = findDataset(ds.name);
const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
const inputs = [...(def ? def.inputFiles(ds.protocol, { dataDir: folder }) : []), run.llm.file, ...specs.flatMap((s) => (s.adapter ? [s.adapter] : []))];
writeBenchResult({ benchmark: `llamarec-${ds.name}`, command: `npx tsx bench/llamarec.ts --dataset ${a.dataset} --ranker ${a.ranker}${a.threads ? ` --threads ${a.threads}` : ""}`, inputs, rows });
process.stdout.write(`${seconds.toFixed(0)} s\n`);
