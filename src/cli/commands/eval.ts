import { Command, Option } from "commander";
import { ReclmError } from "../../errors.ts";
import { evalLlamaRec, type EvalLlamaRecFlags } from "./eval-llamarec.ts";
import { fullRanking, DEFAULT_KS } from "../../eval/full-ranking.ts";
import { metricsMeanOfBatchMeans } from "../../eval/metrics.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { commandLine, loadWithProgress, parseFusion, parseKs, parsePositiveInt, parseSplit, withDatasetOptions, maskWindowJson, maskWindowText, withMaskWindowOption, type DataFileOptions } from "../common.ts";
import { writeFileAtomic } from "../../io.ts";
import { knownModelNames, resolveModel } from "../../models/resolve.ts";
import { createProgressReporter } from "../progress.ts";
import type { EvalSplit } from "../../contracts.ts";

interface EvalOptions extends DataFileOptions, Omit<EvalLlamaRecFlags, "split" | "out" | "batchMeans"> {
  dataset: string;
  model?: string;
  method?: "llamarec";
  protocol?: string;
  split: EvalSplit;
  ks: number[];
  batchSize: number;
  maskHistory: boolean;
  maskWindow?: number;
  out?: string;
  withRanks?: boolean;
  batchMeans?: number;
}

export function evalCommand(): Command {
  return withMaskWindowOption(withDatasetOptions(new Command("eval")))
    .description("full-ranking evaluation (history masked) of a model: Recall/NDCG/MRR @k")
    .option("-m, --model <spec>", `model: ${knownModelNames().join(" | ")}`)
    .addOption(new Option("--method <name>", "an LLM method instead of one model: llamarec (subset + overall, with --ranker or --llm)").choices(["llamarec"]))
    .option("--ranker <run dir>", "llamarec: a fine-tuned ranker (`reclm finetune llamarec --out <dir>`); its zero-shot base LLM is evaluated too")
    .option("--retriever <run dir>", "llamarec: the retriever whose top-20 are re-ordered (default: the ranker's own)")
    .option("--llm <gguf|uri>", "llamarec: any GGUF LLM (a file, or hf:user/repo:quant / https://.../x.gguf downloaded once), with --zero-shot or --lora")
    .option("--lora <gguf>", "llamarec: a LoRA adapter for --llm (e.g. trained with TRL/axolotl and converted by llama.cpp)")
    .option("--zero-shot", "llamarec: the LLM without fine-tuning only")
    .option(
      "--fusion <weight|validation>",
      "llamarec: also score each ranker fused with the retriever's own scores ((1-w) log p_ranker + w log p_retriever over the 20; not the paper's method): a weight in [0, 1], or validation to choose it on the validation split",
      parseFusion,
    )
    .option("--threads <n>", "CPU threads", parsePositiveInt("--threads"))
    .option("--parallel <n>", "llamarec: prompts llama.cpp evaluates side by side", parsePositiveInt("--parallel"))
    .addOption(new Option("--prompt <layout>", "llamarec with --llm: alpaca (the paper's prompt) or chat (the model's chat template)").choices(["alpaca", "chat"]))
    .option("--split <split>", "val or test", parseSplit, "test")
    .option("--ks <list>", "cut-offs, comma-separated", parseKs, [...DEFAULT_KS])
    .option("--batch-size <n>", "histories per scoring call", parsePositiveInt("--batch-size"), 64)
    .option("--no-mask-history", "do not mask the history's items before ranking")
    .option("-o, --out <file.json>", "also write the result as JSON")
    .option("--with-ranks", "include per-user ranks in the JSON (for significance tests)")
    .option(
      "--batch-means <n>",
      "also print the mean of per-batch means over batches of n users in user order (what LlamaRec's retriever test reports, n = its batch size: 16 on ml-latest-small)",
      parsePositiveInt("--batch-means"),
    )
    .action(async (opts: EvalOptions) => {
      if (opts.method && opts.model) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give --model (one model, full ranking) or --method (an LLM method), not both", { field: "--method" });
      if (!opts.method && !opts.model) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give --model <spec> (or --method llamarec)", { field: "--model" });
      const ds = await loadWithProgress(opts.dataset, opts, createProgressReporter());
      if (opts.method === "llamarec") {
        await evalLlamaRec(ds, { ...opts, batchMeans: opts.batchMeans });
        return;
      }
      const model = await resolveModel(opts.model!, ds, { split: opts.split });
      const progress = createProgressReporter();
      let report;
      try {
        report = await fullRanking(model, ds, {
          split: opts.split,
          ks: opts.ks,
          batchSize: opts.batchSize,
          maskHistory: opts.maskHistory,
          maskWindow: opts.maskWindow,
          onProgress: progress.onProgress,
        });
      } finally {
        progress.stop();
        await model.dispose?.();
      }
      process.stdout.write(
        `${report.protocol} on ${ds.name} (protocol ${ds.protocol}, ${opts.split} split, ${report.nUsers} users, ${opts.maskHistory ? maskWindowText(opts.maskWindow ?? model.maskWindow) : "history not masked"})\n`,
      );
      const batchMeans = opts.batchMeans ? metricsMeanOfBatchMeans(report.ranks, report.ks, opts.batchMeans) : undefined;
      const rows = [{ method: model.name, metrics: report.metrics }];
      if (batchMeans) rows.push({ method: `${model.name} (mean of batch means, batch ${opts.batchMeans})`, metrics: batchMeans });
      process.stdout.write(`${formatMetricsTable(rows)}\n`);
      if (opts.out) {
        const json = {
          command: commandLine(),
          date: new Date().toISOString(),
          protocol: report.protocol,
          dataset: ds.name,
          datasetProtocol: ds.protocol,
          split: opts.split,
          model: model.name,
          modelSpec: opts.model,
          maskHistory: opts.maskHistory,
          maskWindow: maskWindowJson(opts.maskWindow ?? model.maskWindow),
          ks: report.ks,
          nUsers: report.nUsers,
          metrics: report.metrics,
          ...(batchMeans ? { meanOfBatchMeans: { batchSize: opts.batchMeans, metrics: batchMeans } } : {}),
          ...(opts.withRanks ? { users: Array.from(report.users, (u) => ds.users[u]), ranks: Array.from(report.ranks) } : {}),
        };
        const path = writeFileAtomic(opts.out, `${JSON.stringify(json, null, 2)}\n`);
        process.stdout.write(`wrote ${path}\n`);
      }
    });
}
