/**
 * Approximate top-k (src/models/ann.ts) against exact search, the reference: item and query vectors reproduce every
 * model's scores as inner products, the index finds the exact top-20 on random vectors, run dirs save and refuse a
 * stale index, and retrieval, TopKRecommender and the service answer through it.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../src/contracts.ts";
import { historyFor, loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { retrieveTopK, topK } from "../../src/eval/full-ranking.ts";
import { ANN_INDEX_FILE, AnnRecommender, buildRunIndex, ItemIndex } from "../../src/models/ann.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { MODEL_FILE, NeuralRecommender } from "../../src/models/neural/recommender.ts";
import { trainModel } from "../../src/models/neural/trainer.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { resolveModel } from "../../src/models/resolve.ts";
import { TopKRecommender } from "../../src/models/top-k.ts";
import { Rng } from "../../src/rng.ts";
import { recommend } from "../../src/serve/recommend.ts";

let ds: SequenceDataset;
const engine = Engine.create({ threads: 1 });
beforeAll(async () => {
  ds = await loadDataset("embedded");
});
afterAll(() => engine.dispose());

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[ai * dim + k] * b[bi * dim + k];
  return s;
}

describe("item and query vectors", () => {
  it.each(["lrurec", "sasrec", "bert4rec", "narm", "gru4rec", "caser"])("%s: q·v_i is the model's score of item i", async (name) => {
    const def = getNeuralModel(name);
    const { config } = resolveConfig(def, { preset: "none", config: { maxLen: 16, hidden: 16, evalBatchSize: 8, seed: 2 } });
    const rec = new NeuralRecommender(def, config, ds.catalog.size, { engine });
    try {
      const histories = [0, 1, 2, 3, 4].map((u) => historyFor(ds, u, "test"));
      const scores = await rec.scoreAll(histories);
      const items = rec.itemVectors();
      const queries = rec.queryVectors(histories);
      expect(queries.dim).toBe(items.dim);
      const N = ds.catalog.size;
      let worst = 0;
      for (let b = 0; b < histories.length; b++) {
        for (let i = 1; i <= N; i++) worst = Math.max(worst, Math.abs(dot(queries.vectors, b, items.vectors, i - 1, items.dim) - scores[b * (N + 1) + i]));
      }
      expect(worst).toBeLessThan(1e-4);
      expect(Math.max(...scores.subarray(1, N + 1)) - Math.min(...scores.subarray(1, N + 1))).toBeGreaterThan(1e-3); // not all equal
    } finally {
      rec.dispose();
    }
  });
});

/** Brute-force top-k by inner product, leaving out `skip`. */
function exactTop(vectors: Float32Array, q: Float32Array, dim: number, k: number, skip: ArrayLike<number> = []): Int32Array {
  const n = vectors.length / dim;
  const row = new Float32Array(n + 1);
  row[0] = -Infinity;
  for (let i = 1; i <= n; i++) row[i] = dot(q, 0, vectors, i - 1, dim);
  for (const i of Array.from(skip)) row[i] = -Infinity;
  return topK(row, k);
}

describe("ItemIndex", () => {
  const dim = 16;
  const n = 20_000;
  const rng = new Rng(11);
  const vectors = Float32Array.from({ length: n * dim }, () => rng.normal());
  let index: ItemIndex;
  beforeAll(() => {
    index = ItemIndex.build(vectors, dim, {}, 1);
  });

  it("finds the exact top-20 by inner product (recall >= 0.95), scores being the inner products", () => {
    let found = 0;
    const queries = 50;
    for (let t = 0; t < queries; t++) {
      const q = Float32Array.from({ length: dim }, () => rng.normal());
      const [got] = index.search(q, 20);
      const want = new Set(exactTop(vectors, q, dim, 20));
      for (const i of got.items) if (want.has(i)) found++;
      got.items.forEach((i, j) => expect(got.scores[j]).toBeCloseTo(dot(q, 0, vectors, i - 1, dim), 3));
    }
    expect(found / (queries * 20)).toBeGreaterThanOrEqual(0.95);
  });

  it("never returns an excluded item, and still returns k", () => {
    const q = Float32Array.from({ length: dim }, () => rng.normal());
    const best = exactTop(vectors, q, dim, 30);
    const [got] = index.search(q, 10, [best.subarray(0, 25)]);
    expect(got.items.length).toBe(10);
    for (const i of best.subarray(0, 25)) expect(got.items).not.toContain(i);
  });
});

describe("a run dir's index", () => {
  let dir: string;
  let trained: Awaited<ReturnType<typeof trainModel>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "reclm-ann-"));
    // annMinItems 1: the embedded catalog (771 items) gets its index at the end of training, as a large one would.
    trained = await trainModel(getNeuralModel("lrurec"), ds, { preset: "none", config: { maxLen: 16, hidden: 16, batchSize: 32, seed: 4 }, threads: 1, maxSteps: 20, outDir: dir, evalTest: false, annMinItems: 1 });
  }, 120_000);
  afterAll(() => trained.recommender.dispose());

  it("is built by training; retrieval through it matches exact retrieval", async () => {
    const ann = await resolveModel(dir, ds, { split: "test", threads: 1, annMinItems: 1 });
    const exact = await resolveModel(dir, ds, { split: "test", threads: 1, annMinItems: Infinity });
    try {
      expect(ann).toBeInstanceOf(AnnRecommender);
      expect(exact).not.toBeInstanceOf(AnnRecommender);
      const users = Int32Array.from({ length: 200 }, (_, k) => k * 7);
      const a = await retrieveTopK(ann, ds, "test", 20, { users });
      const e = await retrieveTopK(exact, ds, "test", 20, { users });
      let same = 0;
      a.candidates.forEach((c, i) => (same += [...c].filter((x) => e.candidates[i].includes(x)).length));
      expect(same / (users.length * 20)).toBeGreaterThanOrEqual(0.95);
      // Masked history items (the model's window, as exact retrieval masks) are never candidates; hits agree.
      const window = ann.maskWindow ?? Infinity;
      a.candidates.forEach((c, i) => {
        const h = historyFor(ds, users[i], "test");
        for (const x of h.subarray(Math.max(0, h.length - window))) expect(c).not.toContain(x);
        expect(a.hits[i]).toBe(c.includes(a.positives[i]) ? 1 : 0);
      });
      // TopKRecommender and the service's recommend take the index's answer.
      const h = historyFor(ds, 3, "test");
      const viaTop = await new TopKRecommender(ann).top(h, 10);
      const [direct] = await ann.topK!([h], 10, [h]);
      expect([...viaTop.items]).toEqual([...direct.items]);
      const answer = await recommend({ history: h, k: 10, excludeSeen: true, rank: false }, { retriever: ann, batcher: undefined as never, candidates: 20 });
      expect(answer.items.map((r) => r.item)).toEqual([...direct.items]);
    } finally {
      await ann.dispose?.();
      await exact.dispose?.();
    }
    // Disposing the index's recommender frees the model it wraps.
    expect((ann as AnnRecommender).disposed).toBe(true);
    expect((ann as AnnRecommender).model.disposed).toBe(true);
    await expect(ann.topK!([historyFor(ds, 3, "test")], 10, [new Int32Array(0)])).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
  });

  it("is refused once the model it indexed changed, and rebuilt by buildRunIndex", async () => {
    writeFileSync(join(dir, MODEL_FILE), Buffer.concat([Buffer.from(new Uint8Array(0)), await import("node:fs").then((fs) => fs.readFileSync(join(dir, MODEL_FILE))), Buffer.from(" ")]));
    expect(() => ItemIndex.load(dir)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CHECKPOINT", location: expect.objectContaining({ field: "modelSha256" }) }));
    buildRunIndex(trained.recommender, dir, {}, 1);
    expect(ItemIndex.load(dir).size).toBe(ds.catalog.size);
    expect(join(dir, ANN_INDEX_FILE)).toBeTruthy();
  });
});
