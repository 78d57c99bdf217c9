import { Command } from "commander";
import { plotRun } from "../../models/neural/report.ts";

export function plotCommand(): Command {
  return new Command("plot")
    .description("draw a training run's curves (loss, validation metrics, best step) as training.svg in its run dir")
    .argument("<run-dirs...>", "run dirs written by `reclm train --out`")
    .action(async (dirs: string[]) => {
      for (const dir of dirs) process.stdout.write(`wrote ${await plotRun(dir)}\n`);
    });
}
