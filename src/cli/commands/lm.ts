/**
 * `reclm lm`: reclm's own language model for a dataset (`lm pretrain`), and any GGUF language model on llama.cpp from
 * the command line: generate text (greedy or beam search) and measure perplexity, optionally with a LoRA adapter file.
 */
import { existsSync, readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { ReclmError } from "../../errors.ts";
import { TextGenerator } from "../../llm/generate.ts";
import { llamaCppTokenizer } from "../../llm/prompt.ts";
import { loadLlamaCppModel, type LlmRuntimeOptions } from "../../llm/runtime.ts";
import { NextTokenScorer } from "../../llm/scorer.ts";
import { resolve } from "node:path";
import { pretrainLmInChild } from "../../llm/own-lm/pretrain-job.ts";
import type { LmSize } from "../../llm/own-lm/pretrain.ts";
import { checkRunFlags, configFromFlags, parsePositiveInt, runJobInput, withDatasetOptions, withRunOptions, type ConfigFlags, type RunFlags } from "../common.ts";
import { createProgressReporter } from "../progress.ts";

interface RuntimeFlags {
  model: string;
  lora?: string;
  loraScale?: number;
  threads?: number;
  gpu?: "auto" | "off";
  contextSize: number;
  json?: boolean;
}

interface GenerateFlags extends RuntimeFlags {
  prompt: string;
  beam: number;
  maxTokens: number;
  stop: string[];
  lengthPenalty: number;
}

interface PerplexityFlags extends RuntimeFlags {
  text?: string;
  file?: string;
}

function parseFloatFlag(flag: string): (v: string) => number {
  return (v) => {
    const x = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(x)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${flag} must be a number, got "${v}"`, { field: flag });
    return x;
  };
}

/** The options every `lm` subcommand shares: the model, a LoRA adapter, threads, GPU, context, JSON output. */
function withRuntimeOptions(cmd: Command): Command {
  return cmd
    .requiredOption("-m, --model <gguf>", "GGUF model file (any architecture llama.cpp loads)")
    .option("--lora <gguf>", "LoRA adapter GGUF (llama.cpp's adapter format) applied to the model")
    .option("--lora-scale <x>", "multiplies the adapter's alpha/rank (default 1)", parseFloatFlag("--lora-scale"))
    .option("--threads <n>", "CPU threads (default: $RECLM_THREADS, else the physical cores)", parsePositiveInt("--threads"))
    .addOption(new Option("--gpu <mode>", "auto: a GPU when node-llama-cpp finds one; off: CPU only").choices(["auto", "off"]).default("off"))
    .option("--context-size <n>", "tokens one sequence holds", parsePositiveInt("--context-size"), 2048)
    .option("--json", "print the result as JSON");
}

function runtimeOptions(o: RuntimeFlags): LlmRuntimeOptions {
  return { threads: o.threads, gpu: o.gpu === "auto" ? "auto" : false };
}

function loraOption(o: RuntimeFlags): { lora?: { file: string; scale?: number } } {
  if (o.lora === undefined) {
    if (o.loraScale !== undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--lora-scale needs --lora", { field: "--lora-scale" });
    return {};
  }
  return { lora: { file: o.lora, scale: o.loraScale } };
}

interface PretrainFlags extends RunFlags, ConfigFlags {
  size: LmSize;
  out?: string;
}

function pretrainCommand(): Command {
  return withRunOptions(withDatasetOptions(new Command("pretrain")), {
    config: "JSON object of pretraining fields (shape, lr, epochs, ...)",
    set: "one pretraining field (repeatable), e.g. --set epochs=2",
    seed: "random seed",
  })
    .description("train reclm's own LM for a dataset: a BPE vocabulary and a llama decoder learned from the training split's text, written as a GGUF")
    .addOption(new Option("--size <size>", "tiny (~1M parameters, minutes) or small (~10M, an hour or more on 2 cores)").choices(["tiny", "small"]).default("tiny"))
    .option("-o, --out <dir>", "run dir (model.gguf, tokenizer.json, checkpoints, report); default runs/lm-<dataset>-<size>")
    .action(async (o: PretrainFlags) => {
      checkRunFlags(o, false);
      const { config, source } = configFromFlags(o);
      const outDir = resolve(o.out ?? `runs/lm-${o.dataset}-${o.size}`);
      const progress = createProgressReporter();
      let rep;
      try {
        rep = await pretrainLmInChild(
          { ...runJobInput(o, outDir, source), config: o.resume ? undefined : config, size: o.size },
          { onProgress: progress.onProgress },
        );
      } finally {
        progress.stop();
      }
      process.stdout.write(
        `reclm-lm-${rep.config.size} on ${rep.dataset}: ${rep.parameters.toLocaleString("en-US")} parameters, ${rep.corpus.trainTokens.toLocaleString("en-US")} training tokens, ` +
          `${rep.steps} steps (stopped by ${rep.stoppedBy}), ${rep.seconds.toFixed(0)} s at ${rep.tokensPerSecond?.toFixed(0) ?? "?"} tokens/s\n` +
          `held-out perplexity ${rep.heldOutPerplexity.toFixed(3)} (step 0: ${rep.validations[0].metrics.perplexity.toFixed(1)})\n` +
          `model: ${rep.model.file}\n`,
      );
    });
}

export function lmCommand(): Command {
  const lm = new Command("lm").description("reclm's own LM (pretrain) and any GGUF LM on llama.cpp: generate text, measure perplexity");
  lm.addCommand(pretrainCommand());

  lm.addCommand(
    withRuntimeOptions(new Command("generate"))
      .description("continue a prompt: greedy decoding, or beam search with --beam N (results best first)")
      .requiredOption("-p, --prompt <text>", "the prompt (BOS is added when the model expects it)")
      .option("--beam <n>", "beam width (1: greedy)", parsePositiveInt("--beam"), 1)
      .option("--max-tokens <n>", "tokens generated at most", parsePositiveInt("--max-tokens"), 64)
      .option("--stop <s>", "stop at this string (repeatable); the text is cut before it", (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option("--length-penalty <x>", "rank beams by logProb / length^x", parseFloatFlag("--length-penalty"), 0)
      .action(async (o: GenerateFlags) => {
        const model = await loadLlamaCppModel(o.model, runtimeOptions(o));
        try {
          const tok = llamaCppTokenizer(model);
          const prompt = [...(tok.bos === null ? [] : [tok.bos]), ...tok.tokenize(o.prompt)];
          const generator = await TextGenerator.create(model, { ...runtimeOptions(o), ...loraOption(o), parallel: 1, maxBeamWidth: o.beam, contextSize: o.contextSize });
          try {
            const results = await generator.generate(prompt, { beamWidth: o.beam, maxNewTokens: o.maxTokens, stop: o.stop, lengthPenalty: o.lengthPenalty });
            if (o.json) process.stdout.write(`${JSON.stringify({ promptTokens: prompt.length, results }, null, 2)}\n`);
            else if (o.beam === 1) process.stdout.write(`${results[0].text}\n`);
            else {
              results.forEach((r, i) => process.stdout.write(`${i + 1}. [logProb ${r.logProb.toFixed(4)}, ${r.tokens.length} tokens, ${r.finish}] ${JSON.stringify(r.text)}\n`));
            }
          } finally {
            await generator.dispose();
          }
        } finally {
          await model.dispose();
        }
      }),
  );

  lm.addCommand(
    withRuntimeOptions(new Command("perplexity"))
      .description("perplexity of a text under the model, in windows of --context-size tokens (each starts with BOS)")
      .option("-t, --text <text>", "the text")
      .option("-f, --file <path>", "a UTF-8 text file")
      .action(async (o: PerplexityFlags) => {
        if ((o.text === undefined) === (o.file === undefined)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give exactly one of --text and --file", { field: "--text" });
        let text = o.text;
        if (o.file !== undefined) {
          if (!existsSync(o.file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "text file not found", { file: o.file });
          text = readFileSync(o.file, "utf8");
        }
        const model = await loadLlamaCppModel(o.model, runtimeOptions(o));
        try {
          const tok = llamaCppTokenizer(model);
          const tokens = tok.tokenize(text!);
          const scorer = await NextTokenScorer.create(model, { ...runtimeOptions(o), ...loraOption(o), contextSize: o.contextSize });
          const progress = createProgressReporter();
          try {
            const r = await scorer.perplexity(tokens, tok.bos, { onProgress: progress.onProgress });
            if (o.json) process.stdout.write(`${JSON.stringify({ model: o.model, lora: o.lora ?? null, textTokens: tokens.length, ...r }, null, 2)}\n`);
            else {
              process.stdout.write(
                `perplexity ${r.perplexity.toFixed(4)} (mean NLL ${r.nll.toFixed(4)} nats) over ${r.predicted} predicted tokens of ${tokens.length}, ${r.windows} window(s) of up to ${o.contextSize} tokens\n`,
              );
            }
          } finally {
            progress.stop();
            await scorer.dispose();
          }
        } finally {
          await model.dispose();
        }
      }),
  );
  return lm;
}
