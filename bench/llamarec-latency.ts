/**
 * LlamaRec's inference-time claim (paper Fig. 3, §4.0.7): ranking 20 candidates with the verbalizer takes ONE forward
 * pass over the prompt, where an LLM that writes the ranked list of titles must generate every title token by token.
 * Measured side by side in one run, on the same model and the same users' prompts:
 *
 * - `llamarec-verbalizer`: reclm's verbalizer ranker (src/methods/llamarec/verbalizer.ts) on llama.cpp, one user at a
 *   time: per-user p50/p95 ms, prompt tokens/s, `speedup` = generation time ÷ verbalizer time (means over users), and
 *   `llamacpp_ratio` = its tokens/s ÷ the same prompts evaluated straight through node-llama-cpp (no reclm code);
 * - `llamarec-generation`: the same instruction asking for the candidates' titles ranked, one per line, decoded
 *   greedily (reclm's TextGenerator) for at most the length of the full list (the 20 titles' tokens + a newline
 *   each); an untrained model may stop early at EOS: the row says how many tokens it generated on average;
 * - `llama-cpp-direct`: the verbalizer's prompts through node-llama-cpp by hand, the reference of llamacpp_ratio.
 *
 *   npx tsx bench/llamarec-latency.ts [--dataset embedded] [--retriever cooc] [--users 24] [--threads 2]
 *     --model reclm-lm-tiny=assets/embedded/lm-tiny.gguf --model smollm2-135m-shape
 *
 * A `--model` is `<name>=<gguf>` or the name of a real model's shape written with random weights (bench/lib/llm-shapes.ts).
 * Writes bench/results/llamarec-latency.json.
 */
import { parseArgs } from "node:util";
import type { Token } from "node-llama-cpp";
import { loadDataset } from "../src/data/index.ts";
import { retrieveTopK } from "../src/eval/full-ranking.ts";
import { inputHistory } from "../src/eval/history.ts";
import { TextGenerator } from "../src/llm/generate.ts";
import { llamaCppTokenizer } from "../src/llm/prompt.ts";
import { loadLlamaCppModel } from "../src/llm/runtime.ts";
import { encodeTruncatedLeft, truncateToTokens } from "../src/llm/prompt.ts";
import { LLAMAREC_PROMPT, llamarecPromptText } from "../src/methods/llamarec/prompt.ts";
import { VerbalizerRanker } from "../src/methods/llamarec/verbalizer.ts";
import { resolveModel } from "../src/models/resolve.ts";
import { cachedShapeGguf, LLM_SHAPES } from "./lib/llm-shapes.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: a } = parseArgs({
  options: {
    dataset: { type: "string", default: "embedded" },
    retriever: { type: "string", default: "cooc" },
    users: { type: "string", default: "24" },
    threads: { type: "string", default: "2" },
    model: { type: "string", multiple: true },
  },
});
if (!a.model?.length) throw new Error("give at least one --model <name>=<gguf> or --model <shape name>");
const threads = Number(a.threads);
const nUsers = Number(a.users);
const ds = await loadDataset(a.dataset!);
const retriever = await resolveModel(a.retriever!, ds, { split: "test" });
const retrieval = await retrieveTopK(retriever, ds, "test", 20, { maskHistory: true });
await retriever.dispose?.();
const users: number[] = [];
retrieval.hits.forEach((h, i) => h && users.length < nUsers && users.push(i));

const GENERATION_INSTRUCTION = "Given user history in chronological order, rank every item of the candidate pool by writing their titles, best first, one per line.";
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

const rows: BenchRow[] = [];
const inputs: string[] = [];
for (const spec of a.model) {
  const [name, path] = spec.includes("=") ? spec.split("=") : [spec, undefined];
  const file = path ?? (LLM_SHAPES[name] ? await cachedShapeGguf(name, "q8_0") : undefined);
  if (!file) throw new Error(`--model ${spec}: give <name>=<gguf> or a shape name (${Object.keys(LLM_SHAPES).join(", ")})`);
  inputs.push(file);
  const model = await loadLlamaCppModel(file, { threads });
  const tok = llamaCppTokenizer(model);
  const budget = Math.min(LLAMAREC_PROMPT.maxPromptTokens, model.trainContextSize);
  const ranker = await VerbalizerRanker.create(model, ds.catalog, { parallel: 1, threads, contextSize: budget, prompt: { ...LLAMAREC_PROMPT, maxPromptTokens: budget } });
  const genContext = Math.min(4096, model.trainContextSize);
  const generator = await TextGenerator.create(model, { parallel: 1, threads, maxBeamWidth: 1, contextSize: genContext });
  const direct = await model.createContext({ contextSize: budget, sequences: 1, threads, flashAttention: false });
  const verbMs: number[] = [];
  const directMs: number[] = [];
  const genMs: number[] = [];
  const genTokens: number[] = [];
  const promptTokens: number[] = [];
  const genPromptTokens: number[] = [];
  const listTokens: number[] = [];
  try {
    for (const i of users) {
      const history = inputHistory(ds, retrieval.users[i], "test");
      const candidates = retrieval.candidates[i];
      const prompt = ranker.promptTokens(history, candidates);
      promptTokens.push(prompt.length);
      // Direct and reclm alternate which goes first, so load from other processes hits both alike.
      const runDirect = async () => {
        const seq = direct.getSequence();
        try {
          const t0 = performance.now();
          await seq.controlledEvaluate(prompt.map((t, k) => (k === prompt.length - 1 ? [t as Token, { generateNext: { probabilities: true } }] : (t as Token))) as never);
          directMs.push(performance.now() - t0);
        } finally {
          seq.dispose();
        }
      };
      const runVerbalizer = async () => {
        const t0 = performance.now();
        await ranker.rank(history, candidates);
        verbMs.push(performance.now() - t0);
      };
      if (users.indexOf(i) % 2 === 0) {
        await runDirect();
        await runVerbalizer();
      } else {
        await runVerbalizer();
        await runDirect();
      }
      // The generation prompt: the same lists, the instruction asking for titles; the full answer's length caps it.
      const cut = (t: string) => truncateToTokens(t, tok, LLAMAREC_PROMPT.maxTitleTokens);
      const titles = Array.from(candidates, (c) => cut(ds.catalog.items[c].title));
      const text = llamarecPromptText(Array.from(history.subarray(Math.max(0, history.length - 20)), (h) => cut(ds.catalog.items[h].title)), titles, { ...LLAMAREC_PROMPT, instruction: GENERATION_INSTRUCTION });
      const full = titles.reduce((s, t) => s + tok.tokenize(`${t}\n`).length, 0);
      // A model whose context cannot hold the verbalizer's prompt and the whole list gets a prompt cut shorter on the
      // left (less work for generation than for the verbalizer: the speedup is then an underestimate).
      const genPrompt = encodeTruncatedLeft(text, tok, Math.min(budget, genContext - full)).tokens;
      genPromptTokens.push(genPrompt.length);
      listTokens.push(full);
      const t0 = performance.now();
      const [out] = await generator.generate(genPrompt, { beamWidth: 1, maxNewTokens: full });
      genMs.push(performance.now() - t0);
      genTokens.push(out.tokens.length);
    }
  } finally {
    await direct.dispose();
    await generator.dispose();
    await ranker.dispose();
    await model.dispose();
  }
  const tokens = promptTokens.reduce((s, x) => s + x, 0);
  const verbTps = tokens / (verbMs.reduce((s, x) => s + x, 0) / 1000);
  const directTps = tokens / (directMs.reduce((s, x) => s + x, 0) / 1000);
  const common = { dataset: name, protocol: "latency", threads, users: users.length, model_file: file };
  rows.push({
    method: "llamarec-verbalizer",
    ...common,
    metrics: { p50_ms: quantile(verbMs, 0.5), p95_ms: quantile(verbMs, 0.95), tokens_per_s: verbTps, speedup: mean(genMs) / mean(verbMs), llamacpp_ratio: verbTps / directTps, prompt_tokens: mean(promptTokens) },
    headline: true,
    notes: `one forward over each prompt, the 20 letters' log-probs at its last position; ${a.dataset} users whose answer is in ${a.retriever}'s top-20, one at a time`,
  });
  rows.push({
    method: "llamarec-generation",
    ...common,
    metrics: { p50_ms: quantile(genMs, 0.5), p95_ms: quantile(genMs, 0.95), generated_tokens: mean(genTokens), full_list_tokens: mean(listTokens), tokens_per_s: mean(genTokens) / (mean(genMs) / 1000), prompt_tokens: mean(genPromptTokens) },
    headline: true,
    notes: `greedy generation of the ranked titles (capped at the full list's length; EOS may end it earlier: compare generated_tokens with full_list_tokens); prompts cut to leave the list room in the model's context of ${genContext} (prompt_tokens vs the verbalizer's)`,
  });
  rows.push({
    method: "llama-cpp-direct",
    ...common,
    metrics: { p50_ms: quantile(directMs, 0.5), p95_ms: quantile(directMs, 0.95), tokens_per_s: directTps },
    headline: true,
    notes: "the verbalizer's prompts through node-llama-cpp by hand (one context, controlledEvaluate, next-token distribution at the last position)",
  });
}
writeBenchResult({ benchmark: "llamarec-latency", command: `npx tsx bench/llamarec-latency.ts --dataset ${a.dataset} --retriever ${a.retriever} --users ${nUsers} --threads ${threads} ${a.model.map((m) => `--model ${m}`).join(" ")}`, inputs, rows });
