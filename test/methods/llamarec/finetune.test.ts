import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { readGgufHeader } from "../../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../../src/llm/tiny-llama.ts";
import { scoreSubsetByRetriever, type RankingSubset } from "../../../src/methods/llamarec/finetune.ts";
import { ADAPTER_FILE, finetuneLlamaRec, rankerSpecsOf, readLlamaRecRun, resolveFinetuneConfig } from "../../../src/methods/llamarec/run.ts";
import { indexLetter, LLAMAREC_PROMPT } from "../../../src/methods/llamarec/prompt.ts";
import { VerbalizerRanker } from "../../../src/methods/llamarec/verbalizer.ts";
import { openDecoder } from "../../../src/llm/train/decoder.ts";
import { writeLoraGguf } from "../../../src/llm/lora-gguf.ts";
import { DecoderGraphs } from "../../../src/llm/train/decoder-graphs.ts";
import { loadLlamaCppModel } from "../../../src/llm/runtime.ts";
import { Rng } from "../../../src/rng.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-llamarec-ft-"));
let ds: SequenceDataset;
let llm: string;
beforeAll(async () => {
  ds = await loadDataset("embedded");
  // A tiny model whose vocabulary holds the catalog's title words, so prompts stay short.
  llm = join(dir, "tiny.gguf");
  writeTinyLlamaGguf(llm, { words: titleWords(), dim: 32, layers: 2, seed: 11 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The prompt's words and the catalog's title words: whole tokens of a tiny model, so prompts stay short. */
function titleWords(): string[] {
  const words = new Set<string>(["###", "Instruction", "Input", "Response", "User", "history", "Candidate", "pool", ...Array.from({ length: 20 }, (_, i) => indexLetter(i))]);
  for (const it of ds.catalog.items.slice(1)) for (const w of it.title.split(/\s+/)) words.add(w);
  return [...words];
}

/**
 * An exported adapter, applied by llama.cpp, scores the letters as reclm's decoder with that LoRA does. A run's best
 * adapter may be its step 0 (B = 0, a no-op): the factors get values first so the check has something to see.
 */
async function expectAdapterRanksAsDecoder(llm: string, adapterFile: string): Promise<void> {
  const decoder = await openDecoder(llm, { lora: { rank: 8, alpha: 32, targets: ["q", "v"] }, adapterFile, threads: 1 });
  const r = new Rng(5);
  for (const { b } of decoder.model.params.lora.values()) decoder.store.write(b, Float32Array.from({ length: b.numel }, () => 0.05 * r.normal()));
  const adapter = `${adapterFile}.perturbed.gguf`;
  writeLoraGguf(adapter, decoder.store, decoder.model);
  const model = await loadLlamaCppModel(llm, { threads: 1 });
  const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(0) });
  try {
    const ranker = await VerbalizerRanker.create(model, ds.catalog, { parallel: 2, contextSize: 512, prompt: { ...LLAMAREC_PROMPT, maxPromptTokens: 512 }, lora: { file: adapter }, kvCache: "f32" });
    const plain = await VerbalizerRanker.create(model, ds.catalog, { parallel: 1, contextSize: 512, prompt: { ...LLAMAREC_PROMPT, maxPromptTokens: 512 }, kvCache: "f32" });
    try {
      const requests = [3, 40, 77].map((u) => ({ history: ds.train[u], candidates: Int32Array.from({ length: 20 }, (_, j) => 1 + ((u * 31 + j * 17) % ds.catalog.size)) }));
      const cpp = await ranker.rankMany(requests);
      const base = await plain.rankMany(requests);
      const ours = graphs.nextTokenLogits(requests.map((r) => ranker.promptTokens(r.history, r.candidates)), ranker.prompter.letters, { batch: 3, lengthBucket: 32 });
      let moved = 0;
      requests.forEach((_, i) => {
        const logSoftmaxShift = cpp[i][0] - ours[i][0]; // log-probs = logits - logsumexp: one constant per prompt
        for (let j = 0; j < 20; j++) expect(Math.abs(cpp[i][j] - ours[i][j] - logSoftmaxShift)).toBeLessThan(2e-4);
        const order = (xs: ArrayLike<number>) => Array.from(xs, (_, k) => k).sort((x, y) => xs[y] - xs[x]);
        expect(order(cpp[i])).toEqual(order(ours[i]));
        for (let j = 0; j < 20; j++) moved = Math.max(moved, Math.abs(cpp[i][j] - base[i][j]));
      });
      expect(moved).toBeGreaterThan(1e-3); // the adapter is applied (it changed the scores)
    } finally {
      await ranker.dispose();
      await plain.dispose();
    }
  } finally {
    graphs.dispose();
    decoder.dispose();
    await model.dispose();
  }
}

const config = { maxExamples: 48, batchSize: 8, microBatch: 4, validateEvery: 3, maxValUsers: 24, lr: 5e-3, warmupSteps: 2, lengthBucket: 64 };

describe("LlamaRec fine-tuning (tiny model, embedded data, pop as the retriever)", () => {
  it("trains the LoRA on the letters, validates on the subset, writes config + adapter + report, and resumes", async () => {
    const out = join(dir, "ranker");
    const first = await finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: out, config, maxSteps: 3, threads: 1 });
    expect(first.steps).toBe(3);
    expect(first.validations.map((v) => v.step)).toEqual([0, 3]);
    expect(first.valUsers).toBeGreaterThan(0);
    expect(first.valUsers).toBeLessThanOrEqual(24);
    expect(first.examples.used).toBe(48);
    expect(first.examples.total).toBeGreaterThan(10_000);
    expect(first.retrieverValidation!["NDCG@10"]).toBeGreaterThan(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("the retriever's own order");
    expect(Object.keys(first.best.metrics)).toEqual(expect.arrayContaining(["NDCG@10", "Recall@1", "MRR@5"]));
    const run = readLlamaRecRun(out);
    expect(run.llm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run.lora).toEqual({ rank: 8, alpha: 32, dropout: 0.05, targets: ["q", "v"] });
    expect(run.retriever).toBe("pop");
    // evaluation and serving score the prompts the adapter was fine-tuned on (budget, history), zero-shot as well
    const { specs } = rankerSpecsOf(out);
    expect(specs.map((x) => x.name)).toEqual(["llamarec-zero-shot", "llamarec"]);
    for (const spec of specs) expect(spec).toMatchObject({ prompt: run.prompt, maxHistory: run.maxHistory, layout: "alpaca" });
    const header = await readGgufHeader(join(out, ADAPTER_FILE));
    expect(header.metadata["adapter.type"]).toBe("lora");
    expect(header.tensors.map((t) => t.name)).toContain("blk.0.attn_q.weight.lora_a");
    // resume to the end of the 6-step run
    const second = await finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: out, config, maxSteps: 6, resume: true, threads: 1 });
    expect(second.steps).toBe(6);
    expect(second.validations.map((v) => v.step)).toEqual([0, 3, 6]);
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).steps).toBe(6);
    expect(existsSync(join(out, "training.svg"))).toBe(true);
    // a fresh run into the same dir is refused without --force
    await expect(finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: out, config, maxSteps: 1, threads: 1 })).rejects.toThrow(/already holds a run/);

    await expectAdapterRanksAsDecoder(llm, join(out, ADAPTER_FILE));
  });

  it("fine-tunes a qwen3 model (per-head q/k norms, NEOX rope, byte-level BPE vocabulary): its adapter, applied by llama.cpp, ranks as reclm's decoder", async () => {
    const qwen3 = join(dir, "tiny-qwen3.gguf");
    writeTinyLlamaGguf(qwen3, { architecture: "qwen3", tokenizer: "bpe", words: titleWords(), dim: 32, heads: 4, kvHeads: 2, headDim: 16, tiedOutput: true, layers: 2, seed: 15 });
    const out = join(dir, "ranker-qwen3");
    const run = await finetuneLlamaRec({ ds, retriever: "pop", llm: qwen3, outDir: out, config, maxSteps: 2, threads: 1 });
    expect(run.steps).toBe(2);
    const header = await readGgufHeader(join(out, ADAPTER_FILE));
    expect(header.metadata["general.architecture"]).toBe("qwen3");
    await expectAdapterRanksAsDecoder(qwen3, join(out, ADAPTER_FILE));
  });

  it("fine-tunes on the retriever's candidates (trainCandidates retriever), recorded in the run and resumed on the same examples", async () => {
    const out = join(dir, "ranker-retrieved");
    const cfg = { ...config, trainCandidates: "retriever" };
    const first = await finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: out, config: cfg, maxSteps: 2, threads: 1 });
    expect(first.examples.used).toBe(48);
    expect(first.examples.scanned).toBeGreaterThanOrEqual(48);
    expect(first.examples.scanned).toBeLessThan(first.examples.total);
    expect(readLlamaRecRun(out).config.trainCandidates).toBe("retriever");
    expect(readLlamaRecRun(out).examples).toEqual(first.examples);
    expect(first.examples.hits).toBeGreaterThanOrEqual(48);
    expect(first.examples.answerFirst).toBeLessThanOrEqual(first.examples.hits!);
    expect(readFileSync(join(out, "report.md"), "utf8")).toMatch(/candidates: retriever, found among \d+ prefixes retrieved: the answer in the top-20 for [\d.]+%, first for [\d.]+% of those/);
    const second = await finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: out, config: cfg, maxSteps: 3, resume: true, threads: 1 });
    expect(second.steps).toBe(3);
    expect(second.examples).toEqual(first.examples);
  });

  it("scores the retriever's own order on the validation subset (the ranker's bar), by its scores", () => {
    const retrieval = { candidates: [Int32Array.from([5, 6, 7]), Int32Array.from([8, 9])], scores: [Float32Array.from([3, 2, 1]), Float32Array.from([2, 1])], positives: Int32Array.from([6, 8]) };
    const subset = { retrieval, positions: Int32Array.from([0, 1]), prompts: [] } as unknown as RankingSubset;
    const m = scoreSubsetByRetriever(subset, [1, 10]);
    expect(m["Recall@1"]).toBeCloseTo(0.5, 12);
    expect(m["NDCG@10"]).toBeCloseTo((1 / Math.log2(3) + 1) / 2, 12);
  });

  it("fits every training example, EOS included, into a model whose context is shorter than the prompts", async () => {
    const short = join(dir, "short.gguf");
    writeTinyLlamaGguf(short, { words: ["###", "Instruction", "Input", "Response", ...Array.from({ length: 20 }, (_, i) => indexLetter(i))], dim: 32, layers: 2, seed: 12, contextLength: 96 });
    const report = await finetuneLlamaRec({ ds, retriever: "pop", llm: short, outDir: join(dir, "short-run"), config: { ...config, maxValUsers: 4 }, maxSteps: 1, threads: 1 });
    expect(report.steps).toBe(1);
  });

  it("refuses unknown or ill-typed fields, naming them", () => {
    expect(() => resolveFinetuneConfig("embedded", { lorarank: 4 }, "--set")).toThrow(/unknown LlamaRec fine-tuning field "lorarank"/);
    expect(() => resolveFinetuneConfig("embedded", { loraRank: "8" }, "--set")).toThrow(/"loraRank" must be a number/);
    expect(() => resolveFinetuneConfig("embedded", { batchSize: 10, microBatch: 4 }, "--set")).toThrow(/batchSize \(10\) must be a multiple of microBatch \(4\)/);
  });
});
