import { Command } from "commander";
import { retrievalRecords, retrieveTopK } from "../../eval/full-ranking.ts";
import type { EvalSplit } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { loadWithProgress, parsePositiveInt, parseSplit, withDatasetOptions, maskWindowText, withMaskWindowOption, type DataFileOptions } from "../common.ts";
import { writeFileAtomic } from "../../io.ts";
import { knownModelNames, resolveModel } from "../../models/resolve.ts";
import { createProgressReporter } from "../progress.ts";

interface RetrieveOptions extends DataFileOptions {
  dataset: string;
  model: string;
  protocol?: string;
  top: number;
  split: EvalSplit;
  batchSize: number;
  maskWindow?: number;
  out: string;
}

export function retrieveCommand(): Command {
  return withMaskWindowOption(withDatasetOptions(new Command("retrieve")))
    .description("per-user top-k candidate lists of a retriever (history masked), as JSON Lines")
    .requiredOption("-m, --model <spec>", `retriever: ${knownModelNames().join(" | ")}`)
    .option("--top <k>", "candidates per user", parsePositiveInt("--top"), 20)
    .option("--split <split>", "val or test", parseSplit, "test")
    .option("--batch-size <n>", "histories per scoring call", parsePositiveInt("--batch-size"), 64)
    .requiredOption("-o, --out <file.jsonl>", "where to write one JSON object per user")
    .action(async (opts: RetrieveOptions, cmd: Command) => {
      const ds = await loadWithProgress(opts.dataset, opts, createProgressReporter());
      // A k beyond the catalogue cannot be filled and sizes per-user buffers (--top 1000000000 is gigabytes per user).
      // The default shrinks to a small catalogue without complaint; a k the user typed is refused.
      if (opts.top > ds.catalog.size) {
        if (cmd.getOptionValueSource("top") === "default") opts.top = ds.catalog.size;
        else {
          throw new ReclmError(
            "RECLM_ERR_BAD_CONFIG",
            `--top ${opts.top} is larger than the catalogue of ${ds.name} (${ds.catalog.size} items); use --top ${ds.catalog.size} or less`,
            { field: "--top" },
          );
        }
      }
      const model = await resolveModel(opts.model, ds, { split: opts.split });
      const progress = createProgressReporter();
      let r;
      try {
        r = await retrieveTopK(model, ds, opts.split, opts.top, { batchSize: opts.batchSize, maskWindow: opts.maskWindow, onProgress: progress.onProgress });
      } finally {
        progress.stop();
        await model.dispose?.();
      }
      const lines = retrievalRecords(ds, r).map((record) => JSON.stringify(record));
      const path = writeFileAtomic(opts.out, lines.length ? `${lines.join("\n")}\n` : "");
      const hits = r.hits.reduce((a, h) => a + h, 0);
      process.stdout.write(
        `${model.name} top-${opts.top} on ${ds.name} (protocol ${ds.protocol}, ${opts.split} split, ${maskWindowText(opts.maskWindow ?? model.maskWindow)}): ${r.users.length} users, ` +
          `positive retrieved for ${hits} (${((100 * hits) / Math.max(1, r.users.length)).toFixed(2)}%); wrote ${path}\n`,
      );
    });
}
