import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { loadDataset } from "../../src/data/index.ts";
import { writeTinyLlamaGguf } from "../../src/llm/tiny-llama.ts";
import { finetuneLlamaRec } from "../../src/methods/llamarec/run.ts";
import { openLlamaRec } from "../../src/methods/llamarec/open.ts";
import { indexLetter } from "../../src/methods/llamarec/prompt.ts";
import { resolveModel } from "../../src/models/resolve.ts";
import { buildApp } from "../../src/serve/app.ts";
import { loadRanker } from "../../src/serve/rankers.ts";
import { killStartedServers, startServe } from "../helpers/serve-process.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-serve-llamarec-"));
let ds: SequenceDataset;
let rankerDir: string;
beforeAll(async () => {
  ds = await loadDataset("embedded");
  const words = new Set<string>(["###", "Instruction", "Input", "Response", "User", "history", "Candidate", "pool", ...Array.from({ length: 20 }, (_, i) => indexLetter(i))]);
  for (const it of ds.catalog.items.slice(1)) for (const w of it.title.split(/\s+/)) words.add(w);
  const llm = join(dir, "tiny.gguf");
  writeTinyLlamaGguf(llm, { words: [...words], dim: 32, layers: 1, seed: 2 });
  rankerDir = join(dir, "ranker");
  await finetuneLlamaRec({ ds, retriever: "pop", llm, outDir: rankerDir, config: { maxExamples: 16, batchSize: 8, microBatch: 8, validateEvery: 2, maxValUsers: 8 }, maxSteps: 2, threads: 1 });
});
afterAll(() => {
  killStartedServers();
  rmSync(dir, { recursive: true, force: true });
});

describe("serve with a LlamaRec ranker run dir (reclm serve --ranker)", () => {
  it("answers rank: true with the fine-tuned verbalizer's order of the retriever's top-20, as `reclm recommend` computes it", async () => {
    const retriever = await resolveModel("pop", ds, { split: "test" });
    const ranker = await loadRanker(rankerDir, ds, { threads: 1 });
    const app = await buildApp({ models: { dataset: ds, retriever, ranker } });
    const reference = await openLlamaRec(rankerDir, ds, { threads: 1, retriever: "pop", parallel: 1 });
    try {
      const history = Array.from(ds.train[7].subarray(0, 6), (i) => ds.catalog.items[i].rawId);
      const r = await app.inject({ method: "POST", url: "/v1/recommend", payload: { history, k: 10, rank: true } });
      expect(r.statusCode).toBe(200);
      const body = r.json();
      expect(body.ranker).toBe("llamarec");
      const want = await reference.recommend(ds.train[7].subarray(0, 6), { k: 10 });
      expect(body.items.map((i: { id: string }) => i.id)).toEqual(want.map((w) => ds.catalog.items[w.item].rawId));
      // The ranker re-orders the retriever's list: the same items at the top 20, another order.
      expect(body.retrieved.map((i: { id: string }) => i.id)).not.toEqual(body.items.map((i: { id: string }) => i.id));
    } finally {
      await app.close();
      await reference.dispose();
    }
  });

  it("refuses a ranker fine-tuned on another dataset, naming the field", async () => {
    const other: SequenceDataset = { ...ds, users: ds.users.slice(1), train: ds.train.slice(1), val: ds.val.subarray(1), test: ds.test.subarray(1) };
    await expect(loadRanker(rankerDir, other)).rejects.toMatchObject({ location: expect.objectContaining({ field: "datasetFingerprint" }) });
  });

  it("as a process: --ranker alone serves the ranker with the retriever it was fine-tuned on", async () => {
    const s = await startServe(["--ranker", rankerDir, "--threads", "1"], { env: { RECLM_CACHE: join(dir, "cache") } });
    try {
      expect(s.output()).toMatch(/loading embedded and pop/);
      const h = await fetch(`${s.url}/health`);
      expect(await h.json()).toMatchObject({ status: "ok", dataset: "embedded", model: "pop", ranker: "llamarec" });
    } finally {
      s.proc.kill("SIGTERM");
      await s.exited;
    }
  });
});
