/**
 * `reclm recommend`: a person's own history in (titles, or the dataset's item ids with --ids), recommendations out.
 * With --ranker: LlamaRec (its retriever's top-20 re-ordered by the fine-tuned LLM); with --model: one retriever.
 */
import { Command } from "commander";
import type { Recommender, SequenceDataset } from "../../contracts.ts";
import { CatalogLookup } from "../../data/catalog-lookup.ts";
import { ReclmError } from "../../errors.ts";
import { openLlamaRec } from "../../methods/llamarec/open.ts";
import { readLlamaRecRun } from "../../methods/llamarec/run.ts";
import { TopKRecommender } from "../../models/top-k.ts";
import { resolveModel } from "../../models/resolve.ts";
import { datasetOfRunFlags, givesOwnData, loadWithProgress, parseFusionWeight, parsePositiveInt, withDataFileOptions, type DataFileOptions } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface RecommendOptions extends DataFileOptions {
  ranker?: string;
  dataset?: string;
  protocol?: string;
  model?: string;
  history: string[];
  ids?: boolean;
  k: number;
  zeroShot?: boolean;
  fusionWeight?: number;
  seen?: boolean;
  threads?: number;
  json?: boolean;
}

export function recommendCommand(): Command {
  return withDataFileOptions(new Command("recommend"))
    .description("recommend for a history you give: titles in, titles out (LlamaRec with --ranker, a retriever with --model)")
    .requiredOption("--history <titles...>", "the history, oldest first: titles as the catalog writes them (or item ids with --ids)")
    .option("--ranker <run dir>", "a fine-tuned LlamaRec ranker (`reclm finetune llamarec --out <dir>`); dataset and retriever come from it")
    .option("-d, --dataset <name>", "dataset (default: the one the ranker or the --model run dir was trained on)")
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default, or the ranker's)")
    .option("-m, --model <spec>", "a retriever to recommend with alone (run dir or baseline name)")
    .option("--ids", "--history holds the dataset's own item ids instead of titles")
    .option("-k, --k <n>", "how many items", parsePositiveInt("--k"), 10)
    .option("--zero-shot", "with --ranker: the base LLM without the adapter")
    .option("--fusion-weight <w>", "with --ranker: fuse its scores with the retriever's, 0 (the ranker alone, default) to 1 (the retriever's order); `reclm eval --method llamarec --fusion validation` chooses one", parseFusionWeight("--fusion-weight"))
    .option("--no-seen", "allow items already in the history (default: excluded)")
    .option("--threads <n>", "CPU threads", parsePositiveInt("--threads"))
    .option("--json", "print JSON")
    .action(async (o: RecommendOptions) => {
      if (o.fusionWeight !== undefined && !o.ranker) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--fusion-weight fuses a ranker with its retriever: give --ranker <run dir>", { field: "--fusion-weight" });
      if (!o.ranker === !o.model) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give --ranker <run dir> (LlamaRec) or --model <spec> (a retriever alone)", { field: "--ranker" });
      const run = o.ranker ? readLlamaRecRun(o.ranker) : undefined;
      const fromRun = (o.dataset === undefined || o.dataset === "custom") && !givesOwnData(o) ? datasetOfRunFlags({ ranker: o.ranker, model: o.model }) : undefined;
      if (fromRun?.files) Object.assign(o, fromRun.files);
      const dataset = o.dataset ?? (givesOwnData(o) ? "custom" : fromRun?.dataset);
      if (!dataset) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--model needs --dataset unless it is a run dir (or --interactions <file> for your own logs)", { field: "--dataset" });
      if (dataset === "custom" && o.interactions === undefined && o.splitDir === undefined) {
        const whose = run ? `the ranker in ${o.ranker} was fine-tuned on your own data (dataset "custom")` : 'dataset "custom" is your own data';
        throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${whose}: give its --interactions <file> and --items <file> (or --split-dir <dir>)`, { field: "--interactions" });
      }
      const ds: SequenceDataset = await loadWithProgress(dataset, { ...o, protocol: o.protocol ?? run?.datasetProtocol ?? fromRun?.protocol }, createProgressReporter());
      const lookup = new CatalogLookup(ds.catalog);
      const history = Int32Array.from(o.history, (h, i) => {
        if (!o.ids) return lookup.byTitleOrThrow(h, `--history[${i}]`);
        const id = lookup.byRawId(h);
        if (id === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `no item with id "${h}" in ${ds.name}`, { field: `--history[${i}]` });
        return id;
      });
      let rec: Recommender;
      if (o.ranker) rec = await openLlamaRec(o.ranker, ds, { threads: o.threads, zeroShot: o.zeroShot, parallel: 1, fusionWeight: o.fusionWeight });
      else {
        const model = await resolveModel(o.model!, ds, { split: "test" });
        rec = new TopKRecommender(model);
      }
      try {
        const t0 = performance.now();
        const items = await rec.recommend(history, { k: o.k, excludeSeen: o.seen ?? true });
        const ms = performance.now() - t0;
        const out = items.map((r, i) => ({ rank: i + 1, id: ds.catalog.items[r.item].rawId, title: ds.catalog.items[r.item].title, score: r.score }));
        if (o.json) process.stdout.write(`${JSON.stringify({ recommender: rec.name, dataset: ds.name, history: Array.from(history, (i) => ds.catalog.items[i].title), items: out, ms }, null, 2)}\n`);
        else {
          process.stdout.write(`${rec.name} on ${ds.name}, history of ${history.length} (${ms.toFixed(0)} ms):\n`);
          for (const r of out) process.stdout.write(`${String(r.rank).padStart(3)}. ${r.title}  [id ${r.id}, score ${r.score.toFixed(3)}]\n`);
        }
      } finally {
        await rec.dispose?.();
      }
    });
}
