import { Command } from "commander";
import { ReclmError } from "../../errors.ts";
import { writeReport } from "../../report/report.ts";

export function reportCommand(): Command {
  return new Command("report")
    .description(
      "charts of training runs and benchmark results (quality by method and dataset beside the paper, every variant, latency) " +
        "as SVG and PNG, plus report.html (self-contained) and report.md",
    )
    .argument("<inputs...>", "run dirs of `reclm train` and/or results files (bench/results/*.json)")
    .option("-o, --out <dir>", "where to write the charts and reports", "report")
    .option("--title <text>", "the report's title", "reclm report")
    .option("--metrics <list>", "quality metrics to chart, comma-separated", "NDCG@10,Recall@10")
    .action(async (inputs: string[], opts: { out: string; title: string; metrics: string }) => {
      const metrics = opts.metrics.split(",").map((m) => m.trim()).filter(Boolean);
      if (metrics.length === 0) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--metrics needs at least one metric, got "${opts.metrics}"`, { field: "--metrics" });
      const out = await writeReport(inputs, { outDir: opts.out, title: opts.title, metrics });
      for (const w of out.warnings) process.stderr.write(`reclm: warning: ${w}\n`);
      for (const c of out.charts) process.stdout.write(`wrote ${c.svgPath} and .png: ${c.title}\n`);
      process.stdout.write(`wrote ${out.html}\nwrote ${out.markdown}\n`);
    });
}
