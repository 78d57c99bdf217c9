/**
 * LlamaRec's quality on a dataset (anchors.md §1.3): a fine-tuned ranker run dir (`reclm finetune llamarec --out`),
 * evaluated on the test split: the retriever alone, the base LLM zero-shot and the fine-tuned ranker, on the
 * valid-retrieval subset and overall, R/N/M@1/5/10. Every row names the LLM file and its sha256.
 *
 *   npx tsx bench/llamarec.ts --dataset ml-latest-small --ranker /work/runs/llamarec-mls [--ranker <dir> ...]
 *       [--name llamarec-<dataset>] [--headline first|none] [--fusion] [--threads 2] [--parallel 4]
 *
 * Several --ranker run dirs (fine-tuning variants on one retriever) are scored on the same users in one run: the
 * zero-shot row once per base LLM, each fine-tuned row with its variant (training candidates, steps, run dir).
 * `--headline first` (the default) marks the retriever's rows and the first ranker's; `none` marks no row (a comparison
 * beside a file that holds the headline figures). `--fusion` adds, per ranker, rows of its scores fused with the
 * retriever's (src/eval/fusion.ts; not the paper's method, never a headline): the weight is chosen on the validation
 * split's subset users, which each ranker scores too, and applied unchanged to the test users. Writes bench/results/<name>.json (default llamarec-<dataset>). The paper's lift (LlamaRec over its own LRURec, overall NDCG@10):
 * +7.7% on ML-100k (.0705 -> .0759), +3.9% on Beauty (.0533 -> .0554); each fine-tuned row carries its own lift.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { loadDataset } from "../src/data/index.ts";
import { findDataset } from "../src/data/registry.ts";
import type { LlamaRecSubsetOverall } from "../src/eval/llamarec.ts";
import { rankerVersusRetriever } from "../src/eval/significance.ts";
import { evaluateLlamaRec } from "../src/methods/llamarec/evaluate.ts";
import { checkRunDataset, RANKER_REPORT_JSON, rankerSpecsOf } from "../src/methods/llamarec/run.ts";
import { sharedDir } from "../src/paths.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    dataset: { type: "string" },
    ranker: { type: "string", multiple: true },
    name: { type: "string" },
    headline: { type: "string", default: "first" },
    fusion: { type: "boolean", default: false },
    threads: { type: "string" },
    parallel: { type: "string" },
  },
});
if (!a.dataset || !a.ranker?.length || !["first", "none"].includes(a.headline)) {
  throw new Error("usage: bench/llamarec.ts --dataset <name> --ranker <run dir> [--ranker <run dir> ...] [--name <benchmark>] [--headline first|none] [--threads n] [--parallel n]");
}
const ds = await loadDataset(a.dataset);
const dirs = a.ranker;
// One zero-shot row per base LLM; every fine-tuned ranker after it, all on the first ranker's retriever.
const seenLlms = new Set<string>();
const entries = dirs.flatMap((dir) => {
  const { run, specs } = rankerSpecsOf(dir);
  checkRunDataset(run, dir, ds);
  const zeroShotSeen = seenLlms.has(run.llm.sha256);
  seenLlms.add(run.llm.sha256);
  return specs.filter((spec) => spec.adapter || !zeroShotSeen).map((spec) => ({ dir, run, spec }));
});
const retriever = entries[0].run.retriever;
for (const e of entries) if (e.run.retriever !== retriever) throw new Error(`${e.dir} re-orders ${e.run.retriever}, not ${retriever}: one retriever per comparison`);
const started = performance.now();
const ev = await evaluateLlamaRec({ ds, retriever, rankers: entries.map((e) => e.spec), split: "test", ...(a.fusion ? { fusion: "validation" as const } : {}), threads: a.threads ? Number(a.threads) : undefined, parallel: a.parallel ? Number(a.parallel) : undefined });
const seconds = (performance.now() - started) / 1000;
const rows: BenchRow[] = [];
// Each ranker row against the retriever on the same users, paired per user (NDCG@10): is the difference more than the
// users drawn? Overall, the users outside the subset have the retriever's value in both.
const SIGNIFICANCE = { resamples: 10_000, seed: 0 };
const significanceNote = `; ndcg10_diff_*: paired per user against the retriever (percentile bootstrap, sign-flip permutation p; ${SIGNIFICANCE.resamples} resamples, seed ${SIGNIFICANCE.seed})`;
const ks = ["Recall", "NDCG", "MRR"].flatMap((m) => [1, 5, 10].map((k) => `${m}@${k}`));
const pick = (m: Record<string, number>) => Object.fromEntries(ks.map((k) => [k, m[k]]));
/** A ranker's (or a fused ranker's) subset and overall metrics, each with its lift over the retriever and the paired difference. */
function rankerProtocolRows(r: LlamaRecSubsetOverall) {
  const versus = rankerVersusRetriever(r, ev.retrieval, SIGNIFICANCE);
  return ([["llamarec-subset", r.subset.ranker, r.nSubset, r.subset.retriever, versus.subset], ["llamarec-overall", r.overall.ranker, r.nTotal, r.overall.retriever, versus.overall]] as const).map(
    ([protocol, metrics, users, retr, c]) => ({
      protocol,
      users,
      metrics: {
        ...pick(metrics),
        ndcg10_lift_over_lrurec: retr["NDCG@10"] > 0 ? metrics["NDCG@10"] / retr["NDCG@10"] - 1 : 0,
        ndcg10_diff_vs_lrurec: c.diff,
        ndcg10_diff_ci95_low: c.ci95[0],
        ndcg10_diff_ci95_high: c.ci95[1],
        ndcg10_diff_p: c.pValue,
      },
    }),
  );
}
const r0 = ev.results[0];
const headline = a.headline === "first";
const lrurecName = "lrurec";
for (const [protocol, metrics, users] of [["llamarec-subset", r0.subset.retriever, r0.nSubset], ["llamarec-overall", r0.overall.retriever, r0.nTotal]] as const) {
  rows.push({ method: lrurecName, dataset: ds.name, protocol, metrics: pick(metrics), ...(headline ? { headline: true } : {}), notes: `the retriever alone (${retriever}), ${users} users, test split` });
}
const headlined = new Set<string>();
ev.results.forEach((r, i) => {
  const { dir, run, spec } = entries[i];
  const base = { llm: run.llm.file, llm_sha256: run.llm.sha256, adapter: spec.adapter ?? null, ms_per_user: ev.secondsPerUser[i] * 1000 };
  // What the fine-tuning saw: its steps x batch of the (sampled) example set, and the step validation selected.
  const report = JSON.parse(readFileSync(join(dir, RANKER_REPORT_JSON), "utf8")) as { steps: number; stoppedBy: string; best: { step: number }; examples: { used: number; total: number; scanned?: number; hits?: number; answerFirst?: number } };
  const candidates = run.config.trainCandidates ?? "uniform";
  const seen = Math.min(report.steps * run.config.batchSize, report.examples.used);
  const trained =
    `${report.steps} steps of ${run.config.batchSize} (${seen} of ${report.examples.used} examples seen, drawn from ` +
    `${report.examples.scanned === undefined ? "" : `${report.examples.scanned} retrieved of `}${report.examples.total} training prefixes; candidates ${candidates}; stopped by ${report.stoppedBy}), ` +
    `adapter of step ${report.best.step} (best validation NDCG@10)` +
    (report.examples.scanned === undefined ? "" : `; of the retrieved training prefixes, ${report.examples.hits} had the answer in the top-20 and ${report.examples.answerFirst} had it first`);
  const variant = spec.adapter ? { train_candidates: candidates, seed: run.config.seed, steps: report.steps, best_step: report.best.step, ranker: basename(dir) } : undefined;
  for (const { protocol, metrics, users } of rankerProtocolRows(r)) {
    const key = `${r.ranker}|${protocol}`;
    const isHeadline = headline && !headlined.has(key);
    headlined.add(key);
    rows.push({
      method: r.ranker,
      dataset: ds.name,
      protocol,
      ...(variant ? { variant } : {}),
      metrics,
      ...(isHeadline ? { headline: true } : {}),
      ...base,
      notes: (spec.adapter
        ? `${users} users; the retriever's top-20 re-ordered by the verbalizer on llama.cpp; fine-tuning: ${trained}, config in the run dir's config.json`
        : `${users} users; the retriever's top-20 re-ordered by the base LLM's verbalizer on llama.cpp, no fine-tuning`) + significanceNote,
    });
  }
});
ev.fused?.forEach((f, i) => {
  const { dir, run, spec } = entries[i];
  const sel = f.selection!;
  const variant = {
    ...(spec.adapter ? { train_candidates: run.config.trainCandidates ?? "uniform", seed: run.config.seed, ranker: basename(dir) } : {}),
    fusion_weight: f.weight,
    fusion_chosen_on: `val subset, ${sel.users} users, ${sel.metric}`,
  };
  const curve = sel.curve.map((c) => `${c.weight}: ${c.value.toFixed(4)}`).join(", ");
  for (const { protocol, metrics, users } of rankerProtocolRows(f.result)) {
    rows.push({
      method: ev.results[i].ranker,
      dataset: ds.name,
      protocol,
      variant,
      metrics,
      llm: run.llm.file,
      llm_sha256: run.llm.sha256,
      adapter: spec.adapter ?? null,
      notes:
        `${users} users; NOT the paper's method: the ranker's log-softmax over the 20 candidates interpolated with the retriever's, ` +
        `(1 - w) log p_ranker + w log p_retriever, w = ${f.weight} chosen on the validation subset (NDCG@10 by w: ${curve}) and applied unchanged to the test users` +
        significanceNote,
    });
  }
});
const def = findDataset(ds.name);
const folder = def?.folder && sharedDir() ? join(sharedDir() as string, "data", def.folder) : undefined;
const llmFiles = [...new Set(entries.map((e) => e.run.llm.file))];
const inputs = [...(def ? def.inputFiles(ds.protocol, { dataDir: folder }) : []), ...llmFiles, ...entries.flatMap((e) => (e.spec.adapter ? [e.spec.adapter] : []))];
const command =
  `npx tsx bench/llamarec.ts --dataset ${a.dataset} ${dirs.map((d) => `--ranker ${d}`).join(" ")}` +
  `${a.name ? ` --name ${a.name}` : ""}${a.headline !== "first" ? ` --headline ${a.headline}` : ""}${a.fusion ? " --fusion" : ""}${a.threads ? ` --threads ${a.threads}` : ""}`;
writeBenchResult({ benchmark: a.name ?? `llamarec-${ds.name}`, command, inputs, rows });
process.stdout.write(`${seconds.toFixed(0)} s\n`);
