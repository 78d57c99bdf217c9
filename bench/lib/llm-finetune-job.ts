/**
 * reclm's side of bench/llm-finetune.ts, run in a child process (runInChild) so that its peak RSS is its own: the
 * GGUF opened with LoRA adapters (openDecoder), its initial LoRA A written out for the PyTorch side, then `trainLlm`
 * (the trainer every LLM method uses) over the benchmark's sequences, one optimizer step per micro-batch.
 * Per step it records the wall time (between the loop's progress reports, one per step: a step takes seconds, the
 * loop reports at most every 200 ms), the step's loss and which sequences the loop's shuffle gave it.
 */
import { readFileSync } from "node:fs";
import type { ChildJob } from "../../src/engine/index.ts";
import { writeFileAtomic } from "../../src/io.ts";
import type { LoraTarget } from "../../src/llm/llama.ts";
import { exampleArray, type LmExample } from "../../src/llm/train/batches.ts";
import { openDecoder } from "../../src/llm/train/decoder.ts";
import { LLM_TRAIN_DEFAULTS, trainLlm } from "../../src/llm/train/trainer.ts";

export interface FinetuneJobInput {
  gguf: string;
  /** Raw int32 [sequences, seqLen]. */
  tokensFile: string;
  seqLen: number;
  labels: "last2" | "all";
  microBatch: number;
  steps: number;
  threads: number;
  lora: { rank: number; alpha: number; targets: LoraTarget[] };
  lr: number;
  /** Where to write the initial LoRA A factors (raw f32, layer by layer, targets in order). */
  loraAFile: string;
}

export interface FinetuneJobResult {
  stepMs: number[];
  /** The process's CPU time (user + system) per step: on a machine shared with other work, what load moves least. */
  stepCpuMs: number[];
  losses: number[];
  /** Sequence indices of each step, in the order the loop fed them. */
  order: number[][];
  /** This process's peak RSS, and the same once the model was loaded (before training). */
  peakRssMib: number;
  rssAfterLoadMib: number;
  paramMib: number;
  computeMib: number;
  trainable: number;
}

const MIB = 2 ** 20;

/**
 * This process's peak resident set (VmHWM of /proc/self/status). Not ru_maxrss: Linux carries a forked child's RSS
 * at exec (the parent's, shared pages included) into the child's ru_maxrss, so a child forked from a big parent
 * would report the parent's size.
 */
export function peakRssMib(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  if (!m) throw new Error("/proc/self/status has no VmHWM line: peak RSS cannot be measured on this system");
  return Number(m[1]) / 1024;
}

const job: ChildJob<FinetuneJobInput, FinetuneJobResult> = async (input) => {
  const raw = readFileSync(input.tokensFile);
  const all = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const n = all.length / input.seqLen;
  if (!Number.isInteger(n) || n !== input.steps * input.microBatch) throw new Error(`${input.tokensFile}: ${all.length} tokens are not ${input.steps * input.microBatch} sequences of ${input.seqLen}`);
  const labelled = new Uint8Array(input.seqLen);
  if (input.labels === "last2") labelled.fill(1, input.seqLen - 2);
  else labelled.fill(1, 1);
  const examples: LmExample[] = Array.from({ length: n }, (_, i) => ({ tokens: all.subarray(i * input.seqLen, (i + 1) * input.seqLen), labelled }));
  const fed: number[] = [];
  const source = exampleArray(examples);

  const decoder = await openDecoder(input.gguf, { lora: input.lora, threads: input.threads, seed: 0 });
  try {
    const rssAfterLoadMib = peakRssMib();
    const adapters = [...decoder.model.params.lora.values()];
    writeFileAtomic(input.loraAFile, adapters.map((a) => new Uint8Array(decoder.store.read(a.a).buffer)));
    const marks: number[] = [];
    const cpuMarks: number[] = [];
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const losses: number[] = [];
    const result = await trainLlm({
      decoder,
      examples: {
        length: source.length,
        example: (i) => {
          fed.push(i);
          return source.example(i);
        },
      },
      config: { ...LLM_TRAIN_DEFAULTS, lr: input.lr, batchSize: input.microBatch, microBatch: input.microBatch, epochs: 1, validateEvery: 0, patience: input.steps + 2 },
      // Nothing to select: the benchmark times steps. The loop validates before the first step (the clock's start).
      validate: async () => {
        if (marks.length === 0) {
          marks.push(performance.now());
          cpuMarks.push(cpuMs());
        }
        return { metrics: {}, value: 0 };
      },
      selectMetric: "none",
      name: "llm-finetune benchmark",
      maxSteps: input.steps,
      checkpointParams: "trainable",
      onProgress: (p) => {
        if (p.done !== marks.length) throw new Error(`progress after step ${p.done}, expected one report per step (step ${marks.length})`);
        marks.push(performance.now());
        cpuMarks.push(cpuMs());
        losses.push(Number(p.info?.loss));
      },
    });
    if (marks.length !== input.steps + 1) throw new Error(`${marks.length - 1} step reports for ${input.steps} steps`);
    const order = Array.from({ length: input.steps }, (_, s) => fed.slice(s * input.microBatch, (s + 1) * input.microBatch));
    return {
      stepMs: marks.slice(1).map((t, s) => t - marks[s]),
      stepCpuMs: cpuMarks.slice(1).map((t, s) => t - cpuMarks[s]),
      losses,
      order,
      peakRssMib: peakRssMib(),
      rssAfterLoadMib,
      paramMib: decoder.store.bytes / MIB,
      computeMib: result.computeBytes / MIB,
      trainable: decoder.store.list().filter((p) => p.trainable).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0),
    };
  } finally {
    decoder.dispose();
  }
};

export default job;
