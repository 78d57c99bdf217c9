import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import { ReclmError } from "../../errors.ts";
import { REPORT_JSON } from "../../models/neural/trainer.ts";
import { writeTrainingCurves } from "../../train/run-dir.ts";

/** The fields of report.json the chart needs (a run dir written by `reclm train`). */
const ReportSchema = z.object({
  model: z.string(),
  dataset: z.string(),
  config: z.object({ selectMetric: z.string() }).passthrough(),
  best: z.object({ step: z.number() }).passthrough().nullable(),
  validations: z.array(z.object({ step: z.number(), loss: z.number().nullable(), metrics: z.record(z.string(), z.number()) }).passthrough()).min(1),
});

export function plotCommand(): Command {
  return new Command("plot")
    .description("draw a training run's curves (loss, validation metrics, best step) as training.svg in its run dir")
    .argument("<run-dirs...>", "run dirs written by `reclm train --out`")
    .action(async (dirs: string[]) => {
      for (const dir of dirs) {
        const file = join(dir, REPORT_JSON);
        if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "no report.json: not a finished `reclm train` run dir", { file });
        let raw: unknown;
        try {
          raw = JSON.parse(readFileSync(file, "utf8"));
        } catch (e) {
          throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `report.json is not valid JSON (${(e as Error).message})`, { file });
        }
        const parsed = ReportSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `report.json: ${issue.message}`, { file, field: issue.path.join(".") });
        }
        const r = parsed.data;
        const out = await writeTrainingCurves(dir, { title: `${r.model} on ${r.dataset}`, selectMetric: r.config.selectMetric, validations: r.validations, bestStep: r.best?.step });
        process.stdout.write(`wrote ${out}\n`);
      }
    });
}
