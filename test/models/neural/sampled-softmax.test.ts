/**
 * Sampled softmax with log-Q correction (src/models/neural/sampled-softmax.ts): the head's sampled scores and their
 * gradients against a computation by hand, the alias sampler's frequencies, the correction term, the config rules,
 * and training with it on the embedded dataset learning next to the full softmax.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SequenceDataset } from "../../../src/contracts.ts";
import { loadDataset } from "../../../src/data/index.ts";
import { compile, Engine, ParamStore, type Param } from "../../../src/engine/index.ts";
import { resolveConfig } from "../../../src/models/neural/config.ts";
import { headScores } from "../../../src/models/neural/head.ts";
import { fillCorrection, NegativeSampler } from "../../../src/models/neural/sampled-softmax.ts";
import { trainModel } from "../../../src/models/neural/trainer.ts";
import { getNeuralModel } from "../../../src/models/registry.ts";
import { Rng } from "../../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

describe("headScores with sampled columns", () => {
  const R = 5;
  const K = 4;
  const V = 11;
  const negatives = Int32Array.from([3, 7, 3, 10]);
  const positives = Int32Array.from([1, 7, 0, 9, 2]);

  it("scores each row's positive and the shared negatives (bias included), and back-propagates into the rows of W", () => {
    const store = new ParamStore(engine);
    const p: Record<string, Param> = {
      h: store.add("h", [R, K], { init: { kind: "normal", std: 1 } }),
      w: store.add("w", [V, K], { init: { kind: "normal", std: 0.5 } }),
      bias: store.add("bias", [V], { init: { kind: "normal", std: 0.5 } }),
    };
    store.initialize(new Rng(9));
    const graph = compile(engine, {
      mode: "grad",
      params: store,
      build: (b) => {
        const cols = { negatives: b.input("negatives", [negatives.length], "i32"), positives: b.input("positives", [R], "i32") };
        const scores = headScores(b, { nItems: V - 1, windowLen: 1, sampledColumns: cols }, p.h, p.w, p.bias);
        return { loss: b.sum(scores), outputs: { scores } };
      },
    });
    try {
      const { loss } = graph.run({ negatives, positives });
      const scores = graph.read("scores");
      const h = store.read(p.h);
      const w = store.read(p.w);
      const bias = store.read(p.bias);
      const score = (r: number, i: number) => bias[i] + Array.from({ length: K }, (_, k) => h[r * K + k] * w[i * K + k]).reduce((a, c) => a + c, 0);
      const S = negatives.length;
      expect(scores.length).toBe(R * (S + 1));
      let sum = 0;
      for (let r = 0; r < R; r++) {
        for (let j = 0; j < S; j++) expect(scores[r * (S + 1) + j]).toBeCloseTo(score(r, negatives[j]), 5);
        expect(scores[r * (S + 1) + S]).toBeCloseTo(score(r, positives[r]), 5);
        for (let j = 0; j <= S; j++) sum += scores[r * (S + 1) + j];
      }
      expect(loss).toBeCloseTo(sum, 4);
      // d(sum)/dW[i] = Σ_r h_r · (times i appears among the row's columns): item 3 twice per row, item 5 never.
      const gw = graph.grad(p.w);
      const hSum = Array.from({ length: K }, (_, k) => Array.from({ length: R }, (_, r) => h[r * K + k]).reduce((a, c) => a + c, 0));
      for (let k = 0; k < K; k++) expect(gw[3 * K + k]).toBeCloseTo(2 * hSum[k], 4);
      for (let k = 0; k < K; k++) expect(gw[5 * K + k]).toBe(0);
      const gb = graph.grad(p.bias);
      expect(gb[7]).toBeCloseTo(R + 1, 4); // a negative in every row, and row 1's positive
      expect(gb[9]).toBeCloseTo(1, 4);
    } finally {
      graph.dispose();
      store.dispose();
    }
  });
});

describe("NegativeSampler", () => {
  it("draws items in proportion to their weights (alias method), never the padding id", () => {
    const w = Float64Array.from([0, 1, 2, 3, 4, 0.5, 10]);
    const s = new NegativeSampler(w);
    const out = new Int32Array(200_000);
    s.draw(new Rng(1), out);
    const counts = new Array(w.length).fill(0);
    for (const i of out) counts[i]++;
    expect(counts[0]).toBe(0);
    const total = w.reduce((a, c) => a + c, 0);
    for (let i = 1; i < w.length; i++) expect(counts[i] / out.length).toBeCloseTo(w[i] / total, 2);
  });

  it("popularity follows the training sequences, uniform does not", () => {
    const ds = { catalog: { size: 3, items: [] }, train: [Int32Array.from([1, 1, 1, 2])], users: ["u"], val: new Int32Array(1), test: new Int32Array(1), name: "t", protocol: "none" } as unknown as SequenceDataset;
    const pop = NegativeSampler.forDataset(ds, "popularity").q;
    expect(pop[1]).toBeGreaterThan(pop[2]);
    expect(pop[2]).toBeGreaterThan(pop[3]);
    expect(pop[3]).toBeGreaterThan(0); // unseen items can still be drawn
    expect([...NegativeSampler.forDataset(ds, "uniform").q.slice(1)]).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it("the correction is -log(S·q) per column, masks accidental hits, and ignores unlabelled rows", () => {
    const s = new NegativeSampler(Float64Array.from([0, 1, 1, 2]));
    const negatives = Int32Array.from([3, 1, 3, 2]);
    const labels = Int32Array.from([3, 0, 2]);
    const correction = new Float32Array(3 * 5);
    const targets = new Int32Array(3);
    fillCorrection(s, negatives, labels, 3, correction, targets);
    const term = (i: number) => Math.fround(-Math.log(4 * s.q[i]));
    expect([...correction.subarray(0, 5)]).toEqual([-1e9, term(1), -1e9, term(2), term(3)].map(Math.fround));
    expect([...correction.subarray(5, 10)]).toEqual([0, 0, 0, 0, 0]);
    expect([...correction.subarray(10, 15)]).toEqual([term(3), term(1), term(3), -1e9, term(2)].map(Math.fround));
    expect([...targets]).toEqual([4, -1, 4]);
  });
});

describe("config", () => {
  it("negatives and negativeSampler need softmax 'sampled'; bad values name the field", () => {
    const def = getNeuralModel("lrurec");
    expect(resolveConfig(def, { preset: "none", config: { softmax: "sampled", negatives: 64 } }).config).toMatchObject({ softmax: "sampled", negatives: 64 });
    expect(() => resolveConfig(def, { preset: "none", config: { negatives: 64 } })).toThrow(/only applies to softmax "sampled"/);
    expect(() => resolveConfig(def, { preset: "none", config: { softmax: "approx" } })).toThrow(expect.objectContaining({ location: { field: "softmax" } }));
    expect(() => resolveConfig(def, { preset: "none", config: { softmax: "sampled", negativeSampler: "zipf" } })).toThrow(expect.objectContaining({ location: { field: "negativeSampler" } }));
  });
});

describe("training with a sampled softmax", () => {
  let ds: SequenceDataset;
  beforeAll(async () => {
    ds = await loadDataset("embedded");
  });

  it("learns on the embedded dataset, close to the full softmax at the same steps, and resumes identically", async () => {
    const base = { maxLen: 20, hidden: 16, batchSize: 32, validateEvery: 50, epochs: 3, seed: 5, evalBatchSize: 256, lr: 3e-3 };
    const run = (config: Record<string, unknown>, maxSteps: number, extra: Record<string, unknown> = {}) =>
      trainModel(getNeuralModel("lrurec"), ds, { preset: "none", config: { ...base, ...config }, threads: 1, maxSteps, evalTest: false, ...extra });
    const sampledConfig = { softmax: "sampled", negatives: 64 };
    const recall = (x: { best: { metrics: Record<string, number> } }) => x.best.metrics["Recall@10"];
    const full = await run({}, 100);
    const sampled = await run(sampledConfig, 100);
    const untrained = await run(sampledConfig, 0);
    const outDir = mkdtempSync(join(tmpdir(), "reclm-sampled-"));
    const half = await run(sampledConfig, 50, { outDir });
    const resumed = await run(sampledConfig, 100, { outDir, resume: true });
    const other = await run({ ...sampledConfig, seed: 6 }, 100);
    try {
      expect(recall(sampled)).toBeGreaterThan(recall(untrained) * 5);
      expect(recall(sampled)).toBeGreaterThan(recall(full) * 0.8);
      // The negatives come from (seed, step): a run stopped and resumed draws the ones a straight run draws.
      const last = (x: typeof sampled) => x.validations[x.validations.length - 1].metrics;
      expect(last(resumed)).toEqual(last(sampled));
      // Another seed draws other negatives and trains differently.
      expect(recall(other)).not.toBe(recall(sampled));
    } finally {
      for (const x of [full, sampled, untrained, half, resumed, other]) x.recommender.dispose();
    }
  }, 120_000);
});
