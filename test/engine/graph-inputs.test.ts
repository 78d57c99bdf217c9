import { afterAll, describe, expect, it } from "vitest";
import { Engine, ParamStore, compile } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

describe("graph inputs", () => {
  // ggml keeps 63 bytes of a name and the builder 60: inputs were found in the graph by that name, so an input whose
  // cut name matched another tensor's was never written and the graph read stale memory.
  it("writes inputs whose names collide after ggml's truncation", () => {
    const store = new ParamStore(engine);
    store.add("w", [3], { init: { kind: "data", data: new Float32Array([100, 200, 300]) }, trainable: false });
    store.initialize(new Rng(1));
    const long = "x".repeat(60);
    const g = compile(engine, {
      mode: "eval",
      params: store,
      build: (b) => ({ outputs: { y: b.add(b.input(`${long}_a`, [3]), b.input(`${long}_b`, [3])) } }),
    });
    for (const k of [1, 2]) {
      g.run({ [`${long}_a`]: new Float32Array([1, 2, 3]).map((v) => v * k), [`${long}_b`]: new Float32Array([10, 20, 30]).map((v) => v * k) });
      expect([...g.read("y")]).toEqual([11, 22, 33].map((v) => v * k));
    }
    g.dispose();
    store.dispose();
  });

  // A model may build a constant (or a dropout mask) that a particular shape of its graph never reads, e.g. a scan's
  // tables for a window of one chunk: ggml does not allocate it, and writing it aborted the process.
  it("compiles and runs a graph with a constant and a dropout mask nothing reads", () => {
    const store = new ParamStore(engine);
    const w = store.add("w", [3], { init: { kind: "data", data: new Float32Array([1, 1, 1]) }, trainable: false });
    store.initialize(new Rng(1));
    const g = compile(engine, {
      mode: "eval",
      params: store,
      build: (b) => {
        const x = b.mul(b.input("x", [3]), w);
        b.constant(new Float32Array([1, 2]), [2]);
        b.dropout(b.input("unused", [4]), 0.5);
        return { outputs: { y: b.scale(x, 2) } };
      },
    });
    g.run({ x: new Float32Array([1, 2, 3]), unused: new Float32Array(4) });
    expect([...g.read("y")]).toEqual([2, 4, 6]);
    g.dispose();
    store.dispose();
  });

  it("writes an input named like a (frozen) parameter", () => {
    const store = new ParamStore(engine);
    const w = store.add("w", [3], { init: { kind: "data", data: new Float32Array([100, 200, 300]) }, trainable: false });
    store.initialize(new Rng(1));
    const g = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { y: b.add(w, b.input("w", [3])) } }) });
    for (const k of [1, 2]) {
      g.run({ w: new Float32Array([1, 2, 3]).map((v) => v * k) });
      expect([...g.read("y")]).toEqual([100 + k, 200 + 2 * k, 300 + 3 * k]);
    }
    g.dispose();
    store.dispose();
  });
});
