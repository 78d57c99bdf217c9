import { afterAll, describe, expect, it } from "vitest";
import { AdamW, ComputeAllocator, Engine, ParamStore, compile, type Graph } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());

const V = 13;
const D = 6;

/** A tiny train setup: one graph per batch size, all drawing dropout from one stream (as TrainStep does). */
function setup(sizes: number[], shared: boolean) {
  const store = new ParamStore(engine);
  const emb = store.add("emb", [V, D], { init: { kind: "normal", std: 0.5 }, decay: true });
  const w = store.add("w", [D, D], { init: { kind: "normal", std: 0.3 }, decay: true });
  store.initialize(new Rng(5));
  const opt = new AdamW(store, { lr: 0.05, weightDecay: 0.01, clipNorm: 1 });
  const rng = new Rng(9);
  const allocator = shared ? new ComputeAllocator(engine) : undefined;
  const graphs = new Map<number, Graph>();
  for (const n of sizes) {
    graphs.set(
      n,
      compile(engine, {
        mode: "train",
        params: store,
        optimizer: opt,
        rng,
        allocator,
        build: (b) => {
          const ids = b.input("ids", [n], "i32");
          const tgt = b.input("targets", [n], "i32");
          // a constant (set once at compile time) and a dropout mask: both must survive other graphs' turns
          const h = b.dropout(b.mul(b.linear(b.embedding(emb, ids), w), b.constant(0.7, [1])), 0.25);
          return { loss: b.crossEntropy(b.matmulNT(h, emb), tgt, { ignoreIndex: 0 }) };
        },
      }),
    );
  }
  const dispose = () => {
    for (const g of graphs.values()) g.dispose();
    allocator?.dispose();
    opt.dispose();
    store.dispose();
  };
  return { store, graphs, allocator, dispose };
}

function data(n: number, seed: number) {
  const r = new Rng(seed);
  const ids = Int32Array.from({ length: n }, () => r.int(1, V));
  const targets = Int32Array.from(ids, (x, i) => (i % 5 === 0 ? 0 : (x % (V - 1)) + 1));
  return { ids, targets };
}

describe("ComputeAllocator (graphs taking turns in one compute buffer)", () => {
  it("alternating graphs train exactly as graphs with buffers of their own, in a buffer sized for the biggest", () => {
    const sizes = [24, 8, 16]; // the biggest placed first: the buffer never moves
    const own = setup(sizes, false);
    const turns = setup(sizes, true);
    const order = [8, 24, 8, 16, 24, 24, 8, 16];
    order.forEach((n, s) => {
      const x = data(n, s);
      expect(turns.graphs.get(n)!.run(x).loss).toBe(own.graphs.get(n)!.run(x).loss);
    });
    for (const p of own.store.list()) expect(turns.store.read(p.name)).toEqual(own.store.read(p));
    const separate = [...own.graphs.values()].map((g) => g.computeBytes);
    expect(turns.allocator!.bytes).toBe(Math.max(...separate));
    own.dispose();
    turns.dispose();
  });

  it("a placement that grows the buffer leaves the graphs placed before it stale, with a clear error", () => {
    const t = setup([8, 24], true);
    const small = t.graphs.get(8)!;
    expect(small.stale).toBe(true);
    expect(() => small.run(data(8, 0))).toThrow(/stale/);
    expect(t.graphs.get(24)!.stale).toBe(false);
    expect(Number.isFinite(t.graphs.get(24)!.run(data(24, 0)).loss)).toBe(true);
    t.dispose();
  });

  it("only the graph that ran last can be read; running again takes the buffer back", () => {
    const store = new ParamStore(engine);
    const w = store.add("w", [3], { init: { kind: "data", data: Float32Array.of(1, 2, 3) } });
    store.initialize(new Rng(0));
    const allocator = new ComputeAllocator(engine);
    const make = (k: number) =>
      compile(engine, { mode: "eval", params: store, allocator, build: (b) => ({ outputs: { y: b.mul(w, b.constant(k, [1])) } }) });
    const a = make(2);
    const b = make(10);
    a.run({});
    expect([...a.read("y")]).toEqual([2, 4, 6]);
    b.run({});
    expect([...b.read("y")]).toEqual([10, 20, 30]);
    expect(() => a.read("y")).toThrow(/another graph ran/);
    a.run({}); // the constant 2 is restored with the buffer
    expect([...a.read("y")]).toEqual([2, 4, 6]);
    a.dispose();
    b.dispose();
    allocator.dispose();
    store.dispose();
  });
});
