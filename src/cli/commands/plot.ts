import { Command } from "commander";
import { readRunDir } from "../../report/inputs.ts";
import { writeTrainingCurves } from "../../train/run-dir.ts";

export function plotCommand(): Command {
  return new Command("plot")
    .description("draw a training run's curves (loss, validation metrics, best step) as training.svg in its run dir")
    .argument("<run-dirs...>", "run dirs written by `reclm train --out`")
    .action(async (dirs: string[]) => {
      for (const dir of dirs) {
        const r = readRunDir(dir);
        const out = await writeTrainingCurves(dir, { title: `${r.model} on ${r.dataset}`, selectMetric: r.config.selectMetric, validations: r.validations, bestStep: r.best?.step });
        process.stdout.write(`wrote ${out}\n`);
      }
    });
}
