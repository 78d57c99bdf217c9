import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore, type Param } from "../../../src/engine/index.ts";
import { headScores, SCORE_COLUMN_MULTIPLE } from "../../../src/models/neural/head.ts";
import { Rng } from "../../../src/rng.ts";

// Training graphs pad the head's columns to a multiple of 16 (ggml's sgemm); nothing else may change.
const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const R = 6;
const K = 5;

/** Loss, scores and gradients of a CE over h·Wᵀ (+ bias), with or without the training graphs' column padding. */
function run(V: number, withBias: boolean, pad: boolean) {
  const store = new ParamStore(engine);
  const p: Record<string, Param> = {
    h: store.add("h", [R, K], { init: { kind: "normal", std: 1 } }),
    w: store.add("w", [V, K], { init: { kind: "normal", std: 0.5 } }),
    ...(withBias ? { bias: store.add("bias", [V], { init: { kind: "normal", std: 0.5 } }) } : {}),
  };
  store.initialize(new Rng(5));
  const labels = Int32Array.from({ length: R }, (_, i) => (i === 2 ? 0 : 1 + ((i * 7) % (V - 1)))); // one ignored row
  const graph = compile(engine, {
    mode: "grad",
    params: store,
    build: (b) => {
      const scores = headScores(b, { nItems: V - 1, windowLen: 1, padScoreColumns: pad }, p.h, p.w, p.bias);
      return { loss: b.crossEntropy(scores, b.input("labels", [R], "i32"), { ignoreIndex: 0 }), outputs: { scores } };
    },
  });
  try {
    const { loss } = graph.run({ labels });
    const scores = graph.read("scores");
    return { loss, scores, columns: scores.length / R, grads: Object.fromEntries(Object.entries(p).map(([k, q]) => [k, graph.grad(q)])) };
  } finally {
    graph.dispose();
    store.dispose();
  }
}

describe("headScores", () => {
  for (const withBias of [false, true]) {
    it(`pads to a multiple of ${SCORE_COLUMN_MULTIPLE} with columns at -1e9 and the same loss and gradients (${withBias ? "bias" : "no bias"})`, () => {
      const V = 37;
      const plain = run(V, withBias, false);
      const padded = run(V, withBias, true);
      expect(plain.columns).toBe(V);
      expect(padded.columns).toBe(48);
      for (let r = 0; r < R; r++) {
        for (let c = 0; c < V; c++) expect(padded.scores[r * 48 + c]).toBeCloseTo(plain.scores[r * V + c], 5);
        for (let c = V; c < 48; c++) expect(padded.scores[r * 48 + c]).toBe(-1e9);
      }
      expect(padded.loss).toBeCloseTo(plain.loss, 6);
      for (const k of Object.keys(plain.grads)) {
        expect(padded.grads[k].length).toBe(plain.grads[k].length);
        plain.grads[k].forEach((g, i) => expect(padded.grads[k][i]).toBeCloseTo(g, 6));
      }
      expect(Math.max(...plain.grads.w.map(Math.abs))).toBeGreaterThan(1e-3); // the comparison is not of zeros
    });
  }

  it("leaves a column count that is already a multiple of 16 as it is", () => {
    expect(run(32, true, true).columns).toBe(32);
  });
});
