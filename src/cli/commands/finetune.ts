/**
 * `reclm finetune llamarec`: LlamaRec's ranker fine-tuned on a dataset, re-ordering a trained retriever's top-20.
 * Without --llm, reclm's own LM for the dataset is used, pretrained first (and cached) when it does not exist yet.
 */
import { resolve } from "node:path";
import { Command, Option } from "commander";
import type { SequenceDataset } from "../../contracts.ts";
import { formatMetricsTable } from "../../eval/report.ts";
import { ownLmState } from "../../llm/own-lm/cache.ts";
import { pretrainLmInChild } from "../../llm/own-lm/pretrain-job.ts";
import type { LmSize } from "../../llm/own-lm/pretrain.ts";
import { finetuneLlamaRecInChild } from "../../methods/llamarec/finetune-job.ts";
import { checkRunFlags, configFromFlags, dataFileOptions, loadWithProgress, resolveLlmFileWithProgress, runJobInput, runStamp, withDatasetOptions, withRunOptions, type ConfigFlags, type DataFileOptions, type RunFlags } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface FinetuneOptions extends RunFlags, ConfigFlags {
  retriever: string;
  llm?: string;
  lmSize?: LmSize;
  out?: string;
  prompt: "alpaca" | "chat";
}

/** The LLM to fine-tune: the user's GGUF, or reclm's own LM of the dataset (pretrained now if it is not cached). */
export async function llmOrOwnLm(opts: { llm?: string; lmSize?: LmSize; protocol?: string; threads?: number; dataset: string } & DataFileOptions, ds: SequenceDataset): Promise<string> {
  if (opts.llm) return resolveLlmFileWithProgress(opts.llm);
  const size = opts.lmSize ?? (ds.name === "embedded" ? "tiny" : "small");
  const state = ownLmState(ds, size);
  if (state.kind === "ready") {
    process.stdout.write(`using reclm's own LM (${size}) for ${ds.name}: ${state.file}\n`);
    return state.file;
  }
  process.stdout.write(`no --llm: pretraining reclm's own ${size} LM for ${ds.name} first (cached in ${state.dir})\n`);
  const progress = createProgressReporter();
  try {
    const rep = await pretrainLmInChild(
      { dataset: opts.dataset, protocol: opts.protocol, dataFiles: dataFileOptions(opts), size, outDir: state.dir, resume: state.kind === "partial", threads: opts.threads },
      { onProgress: progress.onProgress },
    );
    process.stdout.write(`pretrained: held-out perplexity ${rep.heldOutPerplexity.toFixed(2)}, ${rep.parameters} parameters\n`);
    return rep.model.file;
  } finally {
    progress.stop();
  }
}

export function finetuneCommand(): Command {
  const cmd = new Command("finetune").description("fine-tune an LLM method (LlamaRec's ranker) on a dataset");
  cmd.addCommand(
    withRunOptions(withDatasetOptions(new Command("llamarec")), {
      config: "JSON object of fine-tuning fields over the recipe",
      set: "one fine-tuning field (repeatable), e.g. --set maxExamples=4000 --set lr=3e-4",
      seed: "random seed (negatives, LoRA init, example order)",
    })
      .description("LlamaRec's ranker: LoRA on the answer letter over prompts of 20 candidates, validated on the retriever's top-20")
      .requiredOption("--retriever <run dir>", "the trained retriever (`reclm train --model lrurec ... --out <dir>`) whose top-20 the ranker re-orders")
      .option("--llm <gguf|uri>", "base LLM: any llama/qwen2/qwen3 GGUF file, or a model URI downloaded once (hf:user/repo:quant, https://.../x.gguf); default: reclm's own LM for the dataset, pretrained first if needed")
      .addOption(new Option("--lm-size <size>", "size of reclm's own LM when --llm is not given (default tiny on embedded, small otherwise)").choices(["tiny", "small"]))
      .option("-o, --out <dir>", "run dir (config.json, adapter.gguf, checkpoints, report); default runs/llamarec-<dataset>-<time>")
      .addOption(new Option("--prompt <layout>", "alpaca: the paper's prompt; chat: the same instruction in the model's own chat template (instruct models)").choices(["alpaca", "chat"]).default("alpaca"))
      .action(async (opts: FinetuneOptions) => {
        checkRunFlags(opts);
        const ds = await loadWithProgress(opts.dataset, opts, createProgressReporter());
        const llm = await llmOrOwnLm(opts, ds);
        const { config, source } = configFromFlags(opts);
        const outDir = resolve(opts.out ?? `runs/llamarec-${opts.dataset}-${runStamp()}`);
        const progress = createProgressReporter();
        let rep;
        try {
          rep = await finetuneLlamaRecInChild(
            {
              ...runJobInput(opts, outDir, source),
              config: opts.resume && Object.keys(config).length === 0 ? undefined : config,
              retriever: opts.retriever,
              llm,
              layout: opts.prompt,
            },
            { onProgress: progress.onProgress },
          );
        } finally {
          progress.stop();
        }
        process.stdout.write(
          `LlamaRec ranker on ${ds.name}: ${rep.examples.used} of ${rep.examples.total} examples, ${rep.steps} steps, stopped by ${rep.stoppedBy}, ` +
            `${rep.seconds.toFixed(0)} s (${rep.inputTokensPerSecond?.toFixed(0) ?? "?"} tokens/s)\n`,
        );
        process.stdout.write(`validation subset (${rep.valUsers} users; the retriever's top-20 re-ordered on reclm's decoder)\n`);
        process.stdout.write(
          `${formatMetricsTable([
            ...(rep.retrieverValidation ? [{ method: "the retriever's own order", metrics: rep.retrieverValidation }] : []),
            { method: "zero-shot (step 0)", metrics: rep.validations[0].metrics },
            { method: `fine-tuned (best, step ${rep.best.step})`, metrics: rep.best.metrics },
          ])}\n`,
        );
        process.stdout.write(`run dir: ${outDir} (adapter.gguf for llama.cpp)\n`);
      }),
  );
  return cmd;
}
