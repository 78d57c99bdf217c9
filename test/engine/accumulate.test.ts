import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdamW, Engine, GradAccumulator, ParamStore, compile, loadCheckpoint, saveCheckpoint, type Builder, type Param } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-accumulate-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const V = 7;
const D = 5;

/** A tiny classifier: embedding -> linear -> CE with per-row weights; `frozen` is used but not trained. */
function model(seed: number) {
  const store = new ParamStore(engine);
  const emb = store.add("emb", [V, D], { init: { kind: "normal", std: 0.5 } });
  const frozen = store.add("frozen", [D, D], { init: { kind: "normal", std: 0.3 }, trainable: false });
  const w = store.add("w", [V, D], { init: { kind: "normal", std: 0.5 } });
  store.initialize(new Rng(seed));
  const loss = (b: Builder, n: number) => {
    const x = b.input("x", [n], "i32");
    const y = b.input("y", [n], "i32");
    const weights = b.input("weights", [n]);
    const h = b.linear(b.embedding(emb, x), frozen);
    return b.crossEntropy(b.linear(h, w), y, { ignoreIndex: -1, weights });
  };
  return { store, emb, w, frozen, loss };
}

const xs = Int32Array.from([1, 2, 3, 4, 5, 6]);
const ys = Int32Array.from([2, -1, 4, 0, 6, 1]); // row 1 ignored
const labelled = 5;

describe("gradient accumulation and weighted cross-entropy", () => {
  it("k micro-batches accumulated then stepped equal one step on the whole batch", () => {
    const one = model(3);
    const optA = new AdamW(one.store, { lr: 0.05, clipNorm: 0.7 });
    const full = compile(engine, { mode: "train", params: one.store, optimizer: optA, build: (b) => ({ loss: one.loss(b, 6) }) });
    const weightsFull = Float32Array.from(ys, (y) => (y === -1 ? 0 : 1 / labelled));
    const stepsA = [full.run({ x: xs, y: ys, weights: weightsFull }), full.run({ x: xs, y: ys, weights: weightsFull })];

    const two = model(3);
    const optB = new AdamW(two.store, { lr: 0.05, clipNorm: 0.7 });
    const acc = new GradAccumulator(two.store);
    const micro = compile(engine, { mode: "accumulate", params: two.store, accumulator: acc, build: (b) => ({ loss: two.loss(b, 3) }) });
    const last = compile(engine, { mode: "train", params: two.store, optimizer: optB, accumulator: acc, build: (b) => ({ loss: two.loss(b, 3) }) });
    const part = (s: number) => ({ x: xs.slice(s, s + 3), y: ys.slice(s, s + 3), weights: weightsFull.slice(s, s + 3) });
    const stepsB: number[][] = [];
    for (let step = 0; step < 2; step++) {
      const a = micro.run(part(0));
      expect(acc.pending).toBe(1);
      // After one micro-batch the accumulator holds exactly its gradient (non-zero), the weights have not moved.
      expect(acc.read(two.w).some((g) => g !== 0)).toBe(true);
      const b = last.run(part(3));
      expect(acc.pending).toBe(0);
      expect(acc.read(two.w).every((g) => g === 0)).toBe(true);
      stepsB.push([a.loss + b.loss, b.gradNorm!]);
    }
    for (let i = 0; i < 2; i++) {
      expect(stepsB[i][0]).toBeCloseTo(stepsA[i].loss, 5);
      expect(stepsB[i][1]).toBeCloseTo(stepsA[i].gradNorm!, 5);
    }
    for (const name of ["emb", "w"]) {
      const a = one.store.read(name);
      const b = two.store.read(name);
      a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 5));
    }
    expect(two.store.read("frozen")).toEqual(one.store.read("frozen"));
    expect(optB.step).toBe(2);
    for (const x of [full, micro, last, optA, optB, acc, one.store, two.store]) x.dispose();
  });

  it("weights scale each row's loss; ignored rows count nothing whatever their weight", () => {
    const m = model(5);
    const g = compile(engine, { mode: "eval", params: m.store, build: (b) => ({ outputs: { loss: m.loss(b, 6) } }) });
    const perRow = (i: number) => {
      const w = new Float32Array(6);
      w[i] = 1;
      g.run({ x: xs, y: ys, weights: w });
      return g.read("loss")[0];
    };
    const rows = Array.from({ length: 6 }, (_, i) => perRow(i));
    expect(Math.abs(rows[1])).toBe(0);
    expect(rows.filter((r, i) => i !== 1).every((r) => r > 0)).toBe(true);
    const w = Float32Array.from([0.5, 100, 2, 0, 1, 3]);
    g.run({ x: xs, y: ys, weights: w });
    const expected = rows.reduce((s, r, i) => s + (i === 1 ? 0 : w[i] * r), 0);
    expect(g.read("loss")[0]).toBeCloseTo(expected, 4);
    g.dispose();
    m.store.dispose();
  });

  it("refuses an accumulate graph without an accumulator, and weights that are not a graph input", () => {
    const m = model(1);
    expect(() => compile(engine, { mode: "accumulate", params: m.store, build: (b) => ({ loss: m.loss(b, 2) }) })).toThrow(/needs an accumulator/);
    expect(() =>
      compile(engine, {
        mode: "eval",
        params: m.store,
        build: (b) => ({ outputs: { l: b.crossEntropy(b.linear(b.embedding(m.emb, b.input("x", [2], "i32")), m.w), b.input("y", [2], "i32"), { weights: b.constant(1, [2]) }) } }),
      }),
    ).toThrow(/weights must be a graph input/);
    m.store.dispose();
  });

  it('a "trainable" checkpoint holds only the trained parameters and restores them', () => {
    const m = model(2);
    const opt = new AdamW(m.store, { lr: 0.1 });
    const path = join(dir, "lora.safetensors");
    saveCheckpoint(path, { store: m.store, optimizer: opt, params: "trainable" }, { note: "x" });
    const before = (p: Param) => m.store.read(p);
    const emb0 = before(m.emb);
    const frozen0 = before(m.frozen);
    const other = model(9);
    const opt2 = new AdamW(other.store, { lr: 0.1 });
    expect(loadCheckpoint(path, { store: other.store, optimizer: opt2, params: "trainable" })).toEqual({ note: "x" });
    expect(other.store.read("emb")).toEqual(emb0);
    // The frozen weight is not in the file: it keeps its own values.
    expect(other.store.read("frozen")).not.toEqual(frozen0);
    // Reading it as a full checkpoint names the missing frozen tensor.
    expect(() => loadCheckpoint(path, { store: other.store })).toThrow(/"param\/frozen" is missing/);
    for (const x of [opt, opt2, m.store, other.store]) x.dispose();
  });
});
