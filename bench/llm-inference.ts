/**
 * Prompt throughput (tokens/s) of reclm's NextTokenScorer with its default settings against the same prompts
 * evaluated straight through node-llama-cpp (no reclm code) at each thread count asked for, in ONE run on one
 * machine: what reclm's runtime layer (thread default, request queue, sequence pool, prefix re-use, checks) costs or
 * saves over using llama.cpp by hand. Both sides do the same work per prompt: evaluate it and return the next-token
 * distribution at its last position (the verbalizer's forward). Repeats alternate the sides (so load from other
 * processes hits both alike) and start each side on a fresh context, so no prompt is ever found in a KV cache.
 *
 * The model has the exact shape of a real small LM with random weights, written by reclm (under .cache, not
 * committed): SmolLM2-135M (llama: vocab 49,152, d 576, 30 layers, 9 heads, 3 KV heads, FFN 1,536, tied embeddings)
 * and Qwen2.5-0.5B (qwen2: vocab 151,936, d 896, 24 layers, 14 heads, 2 KV heads, FFN 4,864, tied). `--shape` takes
 * a comma-separated list: every shape is measured in the same run and lands in the same file.
 *
 *   npx tsx bench/llm-inference.ts [--shape smollm2-135m-shape,qwen2.5-0.5b-shape] [--weight-type q8_0|f16]
 *     [--prompts 8] [--min-tokens 300] [--max-tokens 1500] [--repeats 3] [--direct-threads 1,2]
 * Writes bench/results/llm-inference.json.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { getLlama, type LlamaModel, type Token } from "node-llama-cpp";
import type { GgufTensorType } from "../src/llm/gguf-writer.ts";
import { loadLlamaCppModel } from "../src/llm/runtime.ts";
import { NextTokenScorer } from "../src/llm/scorer.ts";
import { Rng } from "../src/rng.ts";
import { cachedShapeGguf, llmShape } from "./lib/llm-shapes.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    shape: { type: "string", default: "smollm2-135m-shape" },
    "weight-type": { type: "string", default: "q8_0" },
    prompts: { type: "string", default: "8" },
    "min-tokens": { type: "string", default: "300" },
    "max-tokens": { type: "string", default: "1500" },
    repeats: { type: "string", default: "3" },
    "direct-threads": { type: "string", default: "1,2" },
  },
});
const shapeNames = args.shape!.split(",");
const weightType = args["weight-type"] as GgufTensorType;
if (weightType !== "q8_0" && weightType !== "f16") throw new Error(`--weight-type must be q8_0 or f16, got ${weightType}`);
const nPrompts = Number(args.prompts);
const minTokens = Number(args["min-tokens"]);
const maxTokens = Number(args["max-tokens"]);
const repeats = Number(args.repeats);
const directThreads = args["direct-threads"]!.split(",").map(Number);
const CONTEXT = 2048;
if (maxTokens > CONTEXT) throw new Error(`--max-tokens must be at most the context of ${CONTEXT}`);

async function measure(shapeName: string): Promise<{ file: string; rows: BenchRow[] }> {
// The model: written once (same seed, same bytes), kept under .cache.
const shape = llmShape(shapeName);
const file = await cachedShapeGguf(shapeName, weightType);

// Prompts of realistic length (a LlamaRec prompt is ~300-1,500 tokens), BOS first, evenly spread lengths.
const rng = new Rng(7);
const vocab = shape.options.vocabSize!;
const prompts = Array.from({ length: nPrompts }, (_, i) => {
  const n = Math.round(minTokens + ((maxTokens - minTokens) * i) / Math.max(1, nPrompts - 1));
  return [0, ...Array.from({ length: n - 1 }, () => rng.int(1, vocab - 1))];
});
const totalTokens = prompts.reduce((s, p) => s + p.length, 0);
const candidates = Array.from({ length: 20 }, (_, i) => 100 + i); // the verbalizer's 20 letters stand-in

/**
 * reclm: the scorer with its defaults (threads unless given, parallel sequences, KV cache), one call over all prompts.
 */
const runReclm = async (model: LlamaModel, threads?: number): Promise<{ seconds: number; threads: number; parallel: number }> => {
  const scorer = await NextTokenScorer.create(model, { contextSize: CONTEXT, threads });
  try {
    const t0 = performance.now();
    const rows = await scorer.score(prompts, candidates);
    const seconds = (performance.now() - t0) / 1000;
    if (rows.length !== prompts.length || rows.some((r) => r.some((v) => !Number.isFinite(v)))) throw new Error("reclm returned a bad score row");
    return { seconds, threads: scorer.threads, parallel: scorer.parallel };
  } finally {
    await scorer.dispose();
  }
};

/** node-llama-cpp by hand: one context with `threads`, each prompt evaluated with the distribution at its end. */
const runDirect = async (model: LlamaModel, threads: number): Promise<number> => {
  const context = await model.createContext({ contextSize: CONTEXT, sequences: 1, threads, flashAttention: false });
  try {
    const seq = context.getSequence();
    const t0 = performance.now();
    for (const p of prompts) {
      const out = await seq.controlledEvaluate(p.map((t, k) => (k === p.length - 1 ? [t as Token, { generateNext: { probabilities: true } }] : (t as Token))));
      if (!out[p.length - 1]?.next?.probabilities) throw new Error("node-llama-cpp returned no distribution");
      await seq.clearHistory();
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await context.dispose();
  }
};

const loadBefore = loadavg()[0];
const reclmModel = await loadLlamaCppModel(file);
// The direct side: its own llama.cpp instance, no thread cap (each context gets exactly what it asks for).
const directLlama = await getLlama({ gpu: false, build: "never", logLevel: "error" as never, maxThreads: 0 });
const directModel = await directLlama.loadModel({ modelPath: file });

// reclm at its default thread count (the headline), and at each thread count the direct side runs (the layer's cost
// at equal threads); undefined = the default.
const defaultThreads = (await NextTokenScorer.create(reclmModel, { contextSize: 16, parallel: 1 }).then(async (s) => {
  const t = s.threads;
  await s.dispose();
  return t;
}));
const reclmThreads = [defaultThreads, ...directThreads.filter((t) => t !== defaultThreads)];
const reclmSeconds = new Map<number, number[]>(reclmThreads.map((t) => [t, []]));
let parallel = 0;
const directSeconds = new Map<number, number[]>(directThreads.map((t) => [t, []]));
// One untimed pass of each side warms the page cache and the weights.
await runReclm(reclmModel);
await runDirect(directModel, directThreads[0]);
for (let r = 0; r < repeats; r++) {
  const line: string[] = [];
  for (const t of reclmThreads) {
    const ours = await runReclm(reclmModel, t === defaultThreads ? undefined : t);
    if (ours.threads !== t) throw new Error(`reclm ran with ${ours.threads} threads, ${t} were meant`);
    reclmSeconds.get(t)!.push(ours.seconds);
    parallel = ours.parallel;
    line.push(`reclm@${t}${t === defaultThreads ? " (default)" : ""} ${(totalTokens / ours.seconds).toFixed(1)}`);
  }
  for (const t of directThreads) {
    directSeconds.get(t)!.push(await runDirect(directModel, t));
    line.push(`direct@${t} ${(totalTokens / directSeconds.get(t)!.at(-1)!).toFixed(1)}`);
  }
  process.stderr.write(`repeat ${r + 1}/${repeats} (tokens/s): ${line.join(", ")}; load average ${loadavg()[0].toFixed(2)}\n`);
}
await reclmModel.dispose();
await directModel.dispose();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rate = (seconds: number[]) => ({ tokens_per_s: totalTokens / median(seconds), tokens_per_s_min: totalTokens / Math.max(...seconds), tokens_per_s_max: totalTokens / Math.min(...seconds) });
const direct = directThreads.map((t) => ({ threads: t, ...rate(directSeconds.get(t)!) }));
const best = direct.reduce((a, b) => (b.tokens_per_s > a.tokens_per_s ? b : a));
const common = `${nPrompts} prompts of ${minTokens}-${maxTokens} tokens (${totalTokens} in all), random ids, ${weightType.toUpperCase()} weights, context ${CONTEXT}; median of ${repeats} alternating repeats after one untimed pass each; load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after, on ${cpus().length} cores`;
const rows: BenchRow[] = [
  ...reclmThreads.map((t) => {
    const ours = rate(reclmSeconds.get(t)!);
    const same = direct.find((d) => d.threads === t);
    return {
      method: "reclm-scorer",
      dataset: shapeName,
      protocol: "prompt-throughput",
      metrics: { ...ours, speedup: ours.tokens_per_s / best.tokens_per_s, ...(same ? { speedup_same_threads: ours.tokens_per_s / same.tokens_per_s } : {}) },
      variant: { threads: t, default_threads: t === defaultThreads, parallel },
      headline: t === defaultThreads,
      notes: `NextTokenScorer with ${t === defaultThreads ? "all its defaults" : `threads ${t}, otherwise its defaults`} (${parallel} parallel sequences, F16 KV cache), one score() over all prompts; speedup = vs llama-cpp-direct at its best thread count (${best.threads}), speedup_same_threads = vs llama-cpp-direct at ${t}; ${common}`,
    };
  }),
  ...direct.map((d) => ({
    method: "llama-cpp-direct",
    dataset: shapeName,
    protocol: "prompt-throughput",
    metrics: { tokens_per_s: d.tokens_per_s, tokens_per_s_min: d.tokens_per_s_min, tokens_per_s_max: d.tokens_per_s_max },
    variant: { threads: d.threads },
    headline: d === best,
    notes: `node-llama-cpp 3.21.1 by hand: one context (1 sequence, ${d.threads} thread${d.threads > 1 ? "s" : ""}), controlledEvaluate with the distribution at the last token, clearHistory between prompts; ${common}`,
  })),
];
return { file, rows };
}

const files: string[] = [];
const rows: BenchRow[] = [];
for (const name of shapeNames) {
  const m = await measure(name);
  files.push(m.file);
  rows.push(...m.rows);
}
writeBenchResult({
  benchmark: "llm-inference",
  command: `npx tsx bench/llm-inference.ts --shape ${shapeNames.join(",")} --weight-type ${weightType} --prompts ${nPrompts} --min-tokens ${minTokens} --max-tokens ${maxTokens} --repeats ${repeats} --direct-threads ${directThreads.join(",")}`,
  inputs: files,
  rows,
});
