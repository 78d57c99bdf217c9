/**
 * LoRA fine-tuning throughput (tokens/s) and peak resident memory of reclm's LLM trainer against a plain PyTorch
 * llama (bench/torch/lora_llama.py) on a SmolLM2-135M-shaped model, in ONE run on the same machine:
 * - the same GGUF file (random weights with SmolLM2-135M's shapes, bench/lib/llm-shapes.ts; F32 by default, the fair
 *   setting: PyTorch computes in F32), read by both sides;
 * - the same token sequences (seeded, `--seq-len` tokens each), the same micro-batches in the same order (reclm's loop
 *   shuffles; PyTorch is handed the order reclm's steps used), the same labelled tokens (`--labels last2`: the last 2
 *   tokens of each sequence, a LlamaRec answer letter + EOS; or `all`), the same LoRA (q, v, r 8, alpha 32, reclm's
 *   initial A loaded into PyTorch, B = 0), AdamW lr 1e-4 with clip 1 (reclm's LLM defaults), the same thread count;
 * - reclm's side is `trainLlm` itself (bench/lib/llm-finetune-job.ts) in a child process; PyTorch's is its own process.
 * Both sides start from the same parameters and see the same batches, so their per-step losses must agree: the run
 * stops with an error when any step's losses differ by more than `--loss-tol` (see the README of bench/torch for why
 * that tolerance), so a row is never written for two different computations.
 * Timing: every step's wall time; the first `--warmup` steps (graph compilation, first touch of the weights) are not
 * counted; tokens_per_s = tokens per step / median timed step. Peak RSS: each process's VmHWM (/proc/self/status; not ru_maxrss,
 * which a forked child inherits from its parent).
 *
 *   npx tsx bench/llm-finetune.ts [--threads 1,2] [--micro-batch 1] [--seq-len 1536] [--steps 3] [--warmup 1]
 *     [--labels last2|all] [--weight-type f32] [--loss-tol 1e-4] [--no-torch]
 * Writes bench/results/llm-finetune.json.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runInChild } from "../src/engine/index.ts";
import { writeFileAtomic, writeJsonAtomic } from "../src/io.ts";
import type { GgufTensorType } from "../src/llm/gguf-writer.ts";
import { PACKAGE_ROOT } from "../src/paths.ts";
import { Rng } from "../src/rng.ts";
import type { FinetuneJobInput, FinetuneJobResult } from "./lib/llm-finetune-job.ts";
import { cachedShapeGguf, llmShape } from "./lib/llm-shapes.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const SHAPE = "smollm2-135m-shape";
const LORA = { rank: 8, alpha: 32, targets: ["q", "v"] as ("q" | "v")[] };
const LR = 1e-4;

const { values: args } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    "micro-batch": { type: "string", default: "1" },
    "seq-len": { type: "string", default: "1536" },
    steps: { type: "string", default: "3" },
    warmup: { type: "string", default: "1" },
    labels: { type: "string", default: "last2" },
    "weight-type": { type: "string", default: "f32" },
    "loss-tol": { type: "string", default: "1e-4" },
    "no-torch": { type: "boolean", default: false },
  },
});
const threadCounts = args.threads!.split(",").map(Number);
const microBatches = args["micro-batch"]!.split(",").map(Number);
const seqLen = Number(args["seq-len"]);
const timed = Number(args.steps);
const warmup = Number(args.warmup);
const labels = args.labels as "last2" | "all";
const weightType = args["weight-type"] as GgufTensorType;
const lossTol = Number(args["loss-tol"]);
const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
if (!threadCounts.every(positiveInt) || !microBatches.every(positiveInt) || !positiveInt(seqLen) || seqLen < 3 || !positiveInt(timed) || !(Number.isInteger(warmup) && warmup >= 0)) {
  throw new Error("--threads, --micro-batch, --steps must be positive integers, --seq-len >= 3, --warmup >= 0");
}
if (labels !== "last2" && labels !== "all") throw new Error(`--labels must be last2 or all, got ${labels}`);
if (weightType !== "f32" && weightType !== "f16") throw new Error(`--weight-type must be f32 or f16 (what the PyTorch side reads), got ${weightType}`);
if (!(lossTol > 0)) throw new Error(`--loss-tol must be positive, got ${args["loss-tol"]}`);
const steps = warmup + timed;

const gguf = await cachedShapeGguf(SHAPE, weightType);
const vocab = llmShape(SHAPE).options.vocabSize!;
const workDir = mkdtempSync(join(tmpdir(), "reclm-llm-finetune-"));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Side {
  stepMs: number[];
  stepCpuMs: number[];
  losses: number[];
  peakRssMib: number;
  rssAfterLoadMib: number;
}

function summary(side: Side, tokensPerStep: number) {
  const t = side.stepMs.slice(warmup);
  const med = median(t);
  const cpu = median(side.stepCpuMs.slice(warmup));
  return {
    tokens_per_s: tokensPerStep / (med / 1000),
    median_step_ms: med,
    min_step_ms: Math.min(...t),
    max_step_ms: Math.max(...t),
    tokens_per_cpu_s: tokensPerStep / (cpu / 1000),
    median_step_cpu_ms: cpu,
    peak_rss_mib: side.peakRssMib,
    rss_after_load_mib: side.rssAfterLoadMib,
    first_loss: side.losses[0],
    final_loss: side.losses[side.losses.length - 1],
  };
}

const rows: BenchRow[] = [];
const job = fileURLToPath(new URL("./lib/llm-finetune-job.ts", import.meta.url));
try {
  for (const mb of microBatches) {
    // The same sequences for every thread count of this micro-batch size (seeded).
    const rng = new Rng(7);
    const tokens = Int32Array.from({ length: steps * mb * seqLen }, () => rng.int(0, vocab));
    const tokensFile = writeFileAtomic(join(workDir, `tokens-b${mb}.i32`), new Uint8Array(tokens.buffer));
    const tokensPerStep = mb * seqLen;
    for (const threads of threadCounts) {
      const loraAFile = join(workDir, `lora-a-b${mb}-t${threads}.f32`);
      const input: FinetuneJobInput = { gguf, tokensFile, seqLen, labels, microBatch: mb, steps, threads, lora: LORA, lr: LR, loraAFile };
      process.stderr.write(`reclm: micro-batch ${mb}, ${threads} thread(s), ${steps} steps of ${tokensPerStep} tokens...\n`);
      const ours = await runInChild<FinetuneJobInput, FinetuneJobResult>(job, input);
      ours.stepMs.forEach((ms, s) => process.stderr.write(`reclm step ${s}: ${ms.toFixed(0)} ms (cpu ${ours.stepCpuMs[s].toFixed(0)}) loss ${ours.losses[s].toFixed(6)} (sequences ${ours.order[s].join(",")})\n`));
      process.stderr.write(`reclm: peak RSS ${ours.peakRssMib.toFixed(0)} MiB (after load ${ours.rssAfterLoadMib.toFixed(0)}; parameters ${ours.paramMib.toFixed(0)} MiB, compute buffer ${ours.computeMib.toFixed(0)} MiB)\n`);
      const mine = summary(ours, tokensPerStep);
      const variant = { threads, micro_batch: mb, seq_len: seqLen, labels, weights: weightType };
      let torch: (Side & { torch_version: string }) | undefined;
      if (!args["no-torch"]) {
        const orderFile = writeJsonAtomic(join(workDir, `order-b${mb}-t${threads}.json`), ours.order);
        const out = execFileSync(
          "/usr/bin/python3",
          ["-W", "ignore", "lora_llama.py", "--gguf", gguf, "--tokens", tokensFile, "--seq-len", String(seqLen), "--order", orderFile, "--labels", labels,
            "--warmup", String(warmup), "--threads", String(threads), "--rank", String(LORA.rank), "--alpha", String(LORA.alpha), "--lr", String(LR), "--lora-a", loraAFile],
          { cwd: join(PACKAGE_ROOT, "bench", "torch"), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
        );
        const r = JSON.parse(out.trim().split("\n").pop()!) as { torch_version: string; step_ms: number[]; step_cpu_ms: number[]; losses: number[]; peak_rss_mib: number; rss_after_load_mib: number };
        torch = { torch_version: r.torch_version, stepMs: r.step_ms, stepCpuMs: r.step_cpu_ms, losses: r.losses, peakRssMib: r.peak_rss_mib, rssAfterLoadMib: r.rss_after_load_mib };
        const gaps = ours.losses.map((l, s) => Math.abs(l - torch!.losses[s]));
        process.stderr.write(`losses, step by step (reclm / pytorch / |gap|):\n${ours.losses.map((l, s) => `  ${s}: ${l.toFixed(6)} ${torch!.losses[s].toFixed(6)} ${gaps[s].toExponential(2)}`).join("\n")}\n`);
        if (torch.losses.length !== steps || gaps.some((g) => !(g <= lossTol))) {
          throw new Error(`reclm and PyTorch disagree (tolerance ${lossTol}): losses ${JSON.stringify(ours.losses)} vs ${JSON.stringify(torch.losses)}; not the same computation, no result written`);
        }
        (mine as Record<string, number>).max_loss_gap = Math.max(...gaps);
      }
      const theirs = torch && summary(torch, tokensPerStep);
      const common = `${SHAPE} (${weightType.toUpperCase()} weights, random), LoRA q,v r ${LORA.rank} alpha ${LORA.alpha}, AdamW lr ${LR} clip 1; micro-batch ${mb} x ${seqLen} tokens (seeded random ids), loss on ${labels === "last2" ? "the last 2 tokens of each sequence" : "every token after the first"}; ${timed} timed steps after ${warmup} warm-up; tokens_per_s = ${tokensPerStep} tokens / median timed step (wall), tokens_per_cpu_s the same over the process's CPU time; peak_rss = the process's own peak RSS (VmHWM), rss_after_load = the same once the model is loaded`;
      rows.push({
        method: "reclm-lora",
        dataset: SHAPE,
        protocol: "train-throughput",
        variant,
        metrics: { ...mine, ...(theirs ? { speedup: mine.tokens_per_s / theirs.tokens_per_s, cpu_speedup: mine.tokens_per_cpu_s / theirs.tokens_per_cpu_s } : {}), param_mib: ours.paramMib, compute_mib: ours.computeMib },
        notes: `trainLlm (src/llm/train) in a child process, ${threads} ggml thread(s); ${common}; ${theirs ? "speedup (wall) and cpu_speedup (process CPU time, what load from other work moves least) = vs the pytorch-lora row of the same variant, same run; max_loss_gap = largest |reclm - pytorch| step loss" : "no PyTorch side in this run"}`,
      });
      if (theirs) {
        rows.push({
          method: "pytorch-lora",
          dataset: SHAPE,
          protocol: "train-throughput",
          variant,
          metrics: theirs,
          notes: `bench/torch/lora_llama.py, torch ${torch!.torch_version}, ${threads} thread(s), run right after the reclm-lora row on the same sequences in the same order, reclm's initial LoRA A; ${common}`,
        });
      }
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

// The headline of each method: its row at the first variant asked for (one thread, micro-batch 1 by default).
for (const method of ["reclm-lora", "pytorch-lora"]) {
  const first = rows.find((r) => r.method === method);
  if (first) first.headline = true;
}
const argv = process.argv.slice(2).join(" ");
writeBenchResult({ benchmark: "llm-finetune", command: `npx tsx bench/llm-finetune.ts${argv ? ` ${argv}` : ""}`, inputs: [gguf], rows });
