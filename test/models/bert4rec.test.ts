import { afterAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Engine } from "../../src/engine/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { BERT4Rec, type BERT4RecConfig } from "../../src/models/bert4rec.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { clozeBatch, expectLossFallsReproducibly, expectModelGradientsMatch, forwardShapes, instantiate, leftPad, randomizeParams, trainLosses } from "./neural-harness.ts";

const engine = Engine.create({ threads: 1 }); // tiny graphs: a second thread only adds barrier waits
afterAll(() => engine.dispose());

const N = 7;
const MASK = N + 1;
const tiny = (over: Partial<BERT4RecConfig> = {}): BERT4RecConfig => ({ ...BERT4Rec.defaults, hidden: 8, heads: 2, maxLen: 5, seed: 3, ...over });
const histories = [Int32Array.of(3, 1, 4, 1, MASK), Int32Array.of(2, MASK), Int32Array.of(6, 7, MASK)];

describe("bert4rec", () => {
  it("every preset passes the shared config validation", () => {
    for (const name of Object.keys(BERT4Rec.presets)) expect(resolveConfig(BERT4Rec, { preset: name }).preset).toBe(name);
    expect(Object.keys(BERT4Rec.presets)).toContain("ml-latest-small");
  });

  it("declares an N+2 vocabulary, 1+maxLen positions, two blocks and a biased tied head", () => {
    const m = instantiate(engine, BERT4Rec, tiny(), N);
    const shapes = Object.fromEntries(m.store.list().map((p) => [p.name, [...p.shape]]));
    expect(shapes["token.weight"]).toEqual([9, 8]);
    expect(shapes["position.weight"]).toEqual([6, 8]);
    expect(shapes["head.bias"]).toEqual([9]);
    expect(shapes["blocks.1.ffn.w_1.weight"]).toEqual([32, 8]);
    expect(shapes["blocks.1.attn.out.weight"]).toEqual([8, 8]);
    expect(m.store.list().length).toBe(2 + 2 + 2 * 16 + 2 + 1);
    expect(BERT4Rec.objective(m.config)).toEqual({ kind: "cloze", maskProb: 0.2, maxPredictions: 40 });
    expect(BERT4Rec.vocabSize(N, m.config)).toBe(9);
    // padding row 0 starts at zero, other rows N(0, 1); block weights truncated-normal; layer norms ones
    const tok = m.store.read("token.weight");
    expect(Array.from(tok.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expect(Math.max(...tok.subarray(8).map(Math.abs))).toBeGreaterThan(0.5);
    expect(Math.max(...m.store.read("blocks.0.attn.q.bias").map(Math.abs))).toBeLessThanOrEqual(0.04 + 1e-7);
    expect(Array.from(m.store.read("blocks.0.input.layer_norm.weight"))).toEqual(new Array(8).fill(1));
    for (const p of m.store.list()) expect(p.decay, p.name).toBe(!p.name.includes("bias") && !p.name.includes("layer_norm"));
    m.store.dispose();
  });

  it("rejects a hidden size that heads do not divide", () => {
    expect(() => instantiate(engine, BERT4Rec, tiny({ heads: 3 }), N)).toThrow(ReclmError);
  });

  it("is bidirectional and ignores left padding: real positions do not change with the window length", () => {
    const short = instantiate(engine, BERT4Rec, tiny({ maxLen: 5 }), N);
    const long = instantiate(engine, BERT4Rec, tiny({ maxLen: 8 }), N);
    randomizeParams(long.store, 0.5, 4);
    for (const p of long.store.list()) {
      const v = long.store.read(p);
      short.store.write(p.name, p.name === "position.weight" ? v.subarray(0, 6 * 8) : v);
    }
    const a = forwardShapes(engine, short, leftPad(histories, 5), 3);
    const b = forwardShapes(engine, long, leftPad(histories, 8), 3);
    expect(a.hShape).toEqual([3, 5, 8]);
    expect(a.sShape).toEqual([15, 9]);
    histories.forEach((h, u) => {
      for (let j = 0; j < h.length; j++) {
        const ra = a.h.subarray((u * 5 + 5 - h.length + j) * 8, (u * 5 + 6 - h.length + j) * 8);
        const rb = b.h.subarray((u * 8 + 8 - h.length + j) * 8, (u * 8 + 9 - h.length + j) * 8);
        ra.forEach((v, d) => expect(v).toBeCloseTo(rb[d], 4));
      }
    });
    // Bidirectional: the first item's state changes when a LATER item changes.
    const changed = [Int32Array.of(3, 1, 4, 2, MASK), histories[1], histories[2]];
    const c = forwardShapes(engine, short, leftPad(changed, 5), 3);
    expect(Math.max(...c.h.subarray(0, 8).map((v, d) => Math.abs(v - a.h[d])))).toBeGreaterThan(1e-3);
    short.store.dispose();
    long.store.dispose();
  });

  it("gradients of the whole model (dropout on) match finite differences", () => {
    expectModelGradientsMatch(engine, BERT4Rec, tiny({ dropout: 0.2, attnDropout: 0.2 }), N, histories, 5, { eps: 3e-3 });
  });

  it("cloze loss falls on the embedded dataset and a seed reproduces the run exactly", async () => {
    const ds = await loadDataset("embedded");
    const run = (seed: number, steps: number) => {
      const cfg = { ...BERT4Rec.defaults, hidden: 16, maxLen: 20, maskProb: 0.3, seed };
      return trainLosses(engine, BERT4Rec, cfg, ds.catalog.size, {
        B: 32, lr: 2e-2, steps, batch: (rng) => clozeBatch(ds, 32, 20, BERT4Rec.objective(cfg), rng),
      });
    };
    expectLossFallsReproducibly(run, { steps: 100, window: 15, drop: 0.25 });
  });
});
