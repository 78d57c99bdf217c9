import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { readGgufHeader } from "../../../src/llm/runtime.ts";
import { writeTinyLlamaGguf } from "../../../src/llm/tiny-llama.ts";
import { ADAPTER_FILE, finetuneLlamaRec, readLlamaRecRun, resolveFinetuneConfig } from "../../../src/methods/llamarec/run.ts";
import { indexLetter } from "../../../src/methods/llamarec/prompt.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-llamarec-ft-"));
let ds: SequenceDataset;
let llm: string;
beforeAll(async () => {
  ds = await loadDataset("embedded");
  // A tiny model whose vocabulary holds the catalog's title words, so prompts stay short.
  const words = new Set<string>(["###", "Instruction", "Input", "Response", "User", "history", "Candidate", "pool", ...Array.from({ length: 20 }, (_, i) => indexLetter(i))]);
  for (const it of ds.catalog.items.slice(1)) for (const w of it.title.split(/\s+/)) words.add(w);
  llm = join(dir, "tiny.gguf");
  writeTinyLlamaGguf(llm, { words: [...words], dim: 32, layers: 2, seed: 11 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    expect(Object.keys(first.best.metrics)).toEqual(expect.arrayContaining(["NDCG@10", "Recall@1", "MRR@5"]));
    const run = readLlamaRecRun(out);
    expect(run.llm.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run.lora).toEqual({ rank: 8, alpha: 32, dropout: 0.05, targets: ["q", "v"] });
    expect(run.retriever).toBe("pop");
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
  });

  it("refuses unknown or ill-typed fields, naming them", () => {
    expect(() => resolveFinetuneConfig("embedded", { lorarank: 4 }, "--set")).toThrow(/unknown LlamaRec fine-tuning field "lorarank"/);
    expect(() => resolveFinetuneConfig("embedded", { loraRank: "8" }, "--set")).toThrow(/"loraRank" must be a number/);
    expect(() => resolveFinetuneConfig("embedded", { batchSize: 10, microBatch: 4 }, "--set")).toThrow(/batchSize \(10\) must be a multiple of microBatch \(4\)/);
  });
});
