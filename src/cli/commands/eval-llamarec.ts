/**
 * `reclm eval --method llamarec`: LlamaRec's subset + overall evaluation (anchors §1.3) of a fine-tuned ranker run dir
 * (its zero-shot base LLM and its adapter, beside the retriever alone on the same users), or of any GGUF zero-shot
 * (--zero-shot --llm) or with an adapter trained elsewhere (--lora).
 */
import { resolve } from "node:path";
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { llamarecRows, type LlamaRecSubsetOverall } from "../../eval/llamarec.ts";
import { rankerVersusRetriever } from "../../eval/significance.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { evaluateLlamaRec, type RankerSpec } from "../../methods/llamarec/evaluate.ts";
import { checkRunDataset, rankerSpecsOf } from "../../methods/llamarec/run.ts";
import { sha256File } from "../../io.ts";
import { commandLine, resolveLlmFileWithProgress } from "../common.ts";
import { writeFileAtomic } from "../../io.ts";
import { createProgressReporter } from "../progress.ts";

export interface EvalLlamaRecFlags {
  ranker?: string;
  retriever?: string;
  llm?: string;
  lora?: string;
  zeroShot?: boolean;
  split: "val" | "test";
  threads?: number;
  parallel?: number;
  batchMeans?: number;
  out?: string;
  /** Also score each ranker fused with the retriever (src/eval/fusion.ts). */
  fusion?: number | "validation";
  /** With --llm: the prompt layout ("alpaca" or "chat"); a ranker run dir keeps its own. */
  prompt?: "alpaca" | "chat";
}

/** A result as JSON: typed arrays as plain arrays, the subset's positions left out. */
function resultJson(r: LlamaRecSubsetOverall) {
  return { ...r, subsetIndex: undefined, subset: { ...r.subset, rankerRanks: Array.from(r.subset.rankerRanks) } };
}

export async function evalLlamaRec(ds: SequenceDataset, o: EvalLlamaRecFlags): Promise<void> {
  let retriever = o.retriever;
  let specs: RankerSpec[];
  if (o.ranker) {
    if (o.llm || o.lora) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--ranker names its own LLM and adapter: drop --llm/--lora (or drop --ranker)", { field: "--ranker" });
    const { run, specs: s } = rankerSpecsOf(o.ranker);
    checkRunDataset(run, o.ranker, ds);
    retriever ??= run.retriever;
    specs = o.zeroShot ? s.filter((x) => !x.adapter) : s;
  } else {
    if (!o.llm) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--method llamarec needs --ranker <run dir>, or --llm <gguf> (with --zero-shot or --lora)", { field: "--ranker" });
    if (!o.zeroShot && !o.lora) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "with --llm, say --zero-shot (no adapter) or give --lora <adapter.gguf>", { field: "--zero-shot" });
    const llm = await resolveLlmFileWithProgress(o.llm);
    const layout = o.prompt ?? "alpaca";
    specs = [{ name: "llamarec-zero-shot", llm, layout }, ...(o.lora ? [{ name: "llamarec", llm, adapter: resolve(o.lora), layout }] : [])];
  }
  if (!retriever) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--method llamarec needs --retriever <run dir> (the model whose top-20 the ranker re-orders)", { field: "--retriever" });
  const progress = createProgressReporter();
  let ev;
  try {
    ev = await evaluateLlamaRec({ ds, retriever, rankers: specs, split: o.split, threads: o.threads, parallel: o.parallel, batchSize: o.batchMeans, fusion: o.fusion, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
  const rows = ev.results.flatMap((r, i) => {
    const all = llamarecRows(r);
    // The retriever's rows are the same for every ranker: print them once.
    const mine = all.filter((row) => row.labels.averaging === "per-user" && (i === 0 || row.method === r.ranker));
    const f = ev.fused?.[i];
    const fusedRows = f ? llamarecRows(f.result).filter((row) => row.labels.averaging === "per-user" && row.method === f.result.ranker).map((row) => ({ ...row, method: `${r.ranker} + retriever (fusion w ${f.weight})` })) : [];
    return [...mine, ...fusedRows];
  });
  const r0 = ev.results[0];
  process.stdout.write(
    `LlamaRec on ${ds.name} (protocol ${ds.protocol}, ${o.split} split): ${r0.nSubset} of ${r0.nTotal} users have the answer in ${r0.retriever}'s top-20 (the subset the ranker re-orders)\n`,
  );
  process.stdout.write(`${formatMetricsTable(rows)}\n`);
  ev.results.forEach((r, i) => process.stdout.write(`${r.ranker}: ${(ev.secondsPerUser[i] * 1000).toFixed(1)} ms per ranked user\n`));
  // Is each ranker's difference from its retriever more than the users drawn? (paired per user, NDCG@10)
  const versus = [...ev.results.map((r) => ({ name: r.ranker, r })), ...(ev.fused ?? []).map((f, i) => ({ name: `${ev.results[i].ranker} + retriever (fusion w ${f.weight})`, r: f.result }))].map(({ name, r }) => ({
    name,
    ...rankerVersusRetriever(r, ev.retrieval),
  }));
  const signed = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(4)}`;
  for (const v of versus) {
    const c = v.overall;
    process.stdout.write(`${v.name} vs ${r0.retriever}, overall NDCG@10: ${signed(c.diff)} (95% interval ${signed(c.ci95[0])} to ${signed(c.ci95[1])}, p ${c.pValue.toFixed(3)}, ${c.n} paired users)\n`);
  }
  ev.fused?.forEach((f, i) => {
    const how = f.selection ? `chosen on ${f.selection.users} validation users (${f.selection.metric} ${f.selection.curve.map((c) => `${c.weight}: ${c.value.toFixed(4)}`).join(", ")})` : "given";
    process.stdout.write(`${ev.results[i].ranker} fused with ${r0.retriever}: weight ${f.weight} ${how}\n`);
  });
  if (o.out) {
    const json = {
      command: commandLine(),
      date: new Date().toISOString(),
      dataset: ds.name,
      datasetProtocol: ds.protocol,
      split: o.split,
      retriever,
      rankers: specs.map((s, i) => ({ ...s, llmSha256: sha256File(s.llm), msPerUser: ev.secondsPerUser[i] * 1000 })),
      versusRetriever: versus,
      results: ev.results.map(resultJson),
      ...(ev.fused ? { fused: ev.fused.map((f) => ({ weight: f.weight, selection: f.selection, result: resultJson(f.result) })) } : {}),
    };
    process.stdout.write(`wrote ${writeFileAtomic(o.out, `${JSON.stringify(json, null, 2)}\n`)}\n`);
  }
}
