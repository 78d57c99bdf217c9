import { Command } from "commander";
import { dataCommand } from "./commands/data.ts";
import { evalCommand } from "./commands/eval.ts";
import { exportCommand } from "./commands/export.ts";
import { finetuneCommand } from "./commands/finetune.ts";
import { indexCommand } from "./commands/index-cmd.ts";
import { lmCommand } from "./commands/lm.ts";
import { plotCommand } from "./commands/plot.ts";
import { recommendCommand } from "./commands/recommend.ts";
import { retrieveCommand } from "./commands/retrieve.ts";
import { reportCommand } from "./commands/report.ts";
import { runCommand } from "./commands/run.ts";
import { serveCommand } from "./commands/serve.ts";
import { trainCommand } from "./commands/train.ts";

/** The command tree; `main.ts` runs it. Other engineers add their subcommands here (one file each in commands/). */
export function buildProgram(): Command {
  const program = new Command("reclm")
    .description("LLM-powered sequential recommendation: datasets, baselines, evaluation")
    .showHelpAfterError("(add --help for usage)");
  program.addCommand(runCommand());
  program.addCommand(dataCommand());
  program.addCommand(evalCommand());
  program.addCommand(retrieveCommand());
  program.addCommand(indexCommand());
  program.addCommand(trainCommand());
  program.addCommand(finetuneCommand());
  program.addCommand(recommendCommand());
  program.addCommand(exportCommand());
  program.addCommand(plotCommand());
  program.addCommand(lmCommand());
  program.addCommand(serveCommand());
  program.addCommand(reportCommand());
  return program;
}
