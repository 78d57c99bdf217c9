/**
 * `reclm export llamarec --format trl|axolotl`: LlamaRec's fine-tuning examples as JSONL for TRL or axolotl.
 */
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { llamaCppTokenizer } from "../../llm/prompt.ts";
import { loadLlamaCppModel } from "../../llm/runtime.ts";
import { exportLlamaRecExamples, type ExportFormat } from "../../methods/llamarec/export.ts";
import { writeFileAtomic } from "../../io.ts";
import type { SequenceDataset } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import { resolveModel } from "../../models/resolve.ts";
import { scanRetrievedExamples, TRAIN_CANDIDATES, type TrainCandidates } from "../../methods/llamarec/retrieved-examples.ts";
import { loadWithProgress, parseNonNegativeInt, resolveLlmFileWithProgress, withDatasetOptions, type DataFileOptions } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface ExportFlags extends DataFileOptions {
  dataset: string;
  protocol?: string;
  format: ExportFormat;
  chat?: boolean;
  llm?: string;
  maxExamples: number;
  seed: number;
  candidates: TrainCandidates;
  retriever?: string;
  out: string;
}

export function exportCommand(): Command {
  const cmd = new Command("export").description("export a method's training data for other trainers");
  cmd.addCommand(
    withDatasetOptions(new Command("llamarec"))
      .description("LlamaRec's fine-tuning examples as JSONL: TRL (prompt-completion) or axolotl (input_output segments); --chat for chat-template rows")
      .addOption(new Option("--format <name>", "trl or axolotl").choices(["trl", "axolotl"]).makeOptionMandatory())
      .option("--chat", "conversational rows ({messages: [...]}) for an instruct model's chat template")
      .option("--llm <gguf|uri>", "cut titles to 32 tokens of this model's tokenizer (the paper's llm_max_title_len); the EOS text too")
      .option("--max-examples <n>", "a seeded sample of the examples (0: all)", parseNonNegativeInt("--max-examples"), 0)
      .option("--seed <n>", "seed of the negatives and the sample", parseNonNegativeInt("--seed"), 42)
      .addOption(
        new Option("--candidates <kind>", "uniform: the paper's 19 uniform negatives; retriever / retriever-shuffled: the --retriever's top-20 (fine-tuning's trainCandidates)")
          .choices([...TRAIN_CANDIDATES])
          .default("uniform"),
      )
      .option("--retriever <run dir>", "the trained retriever whose top-20 are the candidates (with --candidates retriever*)")
      .requiredOption("-o, --out <file.jsonl>", "output file")
      .action(async (o: ExportFlags) => {
        if (o.candidates !== "uniform" && !o.retriever) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `--candidates ${o.candidates} needs --retriever <run dir>`, { field: "--retriever" });
        const ds = await loadWithProgress(o.dataset, o, createProgressReporter());
        const examples = o.candidates === "uniform" ? undefined : await retrievedExamples(ds, o, o.candidates);
        const model = o.llm ? await loadLlamaCppModel(await resolveLlmFileWithProgress(o.llm), { vocabOnly: true }) : undefined;
        try {
          const tokenizer = model ? llamaCppTokenizer(model) : undefined;
          const eosText = model && tokenizer ? model.detokenize([tokenizer.eos as never], true) : undefined;
          const { rows, count, total } = exportLlamaRecExamples(ds, { format: o.format, chat: o.chat, seed: o.seed, maxExamples: o.maxExamples, tokenizer, eosText, examples });
          const lines: string[] = [];
          for (const r of rows) lines.push(`${JSON.stringify(r)}\n`);
          const path = writeFileAtomic(resolve(o.out), lines);
          process.stdout.write(
            `wrote ${count} examples of ${total} training prefixes (${o.format}${o.chat ? ", chat" : ""}, candidates ${o.candidates}) to ${path}${tokenizer ? "" : "; titles not cut (no --llm)"}\n`,
          );
        } finally {
          await model?.dispose();
        }
      }),
  );
  return cmd;
}

/** The retriever's candidates for the training prefixes, as fine-tuning with trainCandidates finds them. */
async function retrievedExamples(ds: SequenceDataset, o: ExportFlags, candidates: Exclude<TrainCandidates, "uniform">) {
  const retriever = await resolveModel(o.retriever!, ds, { split: "val" });
  const progress = createProgressReporter();
  try {
    return await scanRetrievedExamples(ds, retriever, { seed: o.seed, candidates, maxExamples: o.maxExamples, onProgress: progress.onProgress });
  } finally {
    progress.stop();
    await retriever.dispose?.();
  }
}
