import { Command } from "commander";
import { fullRanking, DEFAULT_KS } from "../../eval/full-ranking.ts";
import { metricsMeanOfBatchMeans } from "../../eval/metrics.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { commandLine, loadWithProgress, parseKs, parsePositiveInt, parseSplit, withDataFileOptions, maskWindowJson, maskWindowText, withMaskWindowOption, type DataFileOptions } from "../common.ts";
import { writeFileAtomic } from "../io.ts";
import { knownModelNames, resolveModel } from "../../models/resolve.ts";
import { createProgressReporter } from "../progress.ts";
import type { EvalSplit } from "../../contracts.ts";

interface EvalOptions extends DataFileOptions {
  dataset: string;
  model: string;
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
  return withMaskWindowOption(withDataFileOptions(new Command("eval")))
    .description("full-ranking evaluation (history masked) of a model: Recall/NDCG/MRR @k")
    .requiredOption("-d, --dataset <name>", "dataset name (see `reclm data list`)")
    .requiredOption("-m, --model <spec>", `model: ${knownModelNames().join(" | ")}`)
    .option("-p, --protocol <name>", "data protocol (default: the dataset's default)")
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
      const ds = await loadWithProgress(opts.dataset, opts, createProgressReporter());
      const model = await resolveModel(opts.model, ds, { split: opts.split });
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
