import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AdamW, Engine, ParamStore, compile, loadCheckpoint, lrAt, saveCheckpoint, type Graph } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
const dir = mkdtempSync(join(tmpdir(), "reclm-engine-"));
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Hand-written PyTorch AdamW (f64) with clip_grad_norm_. */
function adamwRef(w: number[], grads: number[][], o: { lr: number; wd: number; b1: number; b2: number; eps: number; clip?: number }) {
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  w = [...w];
  grads.forEach((g0, k) => {
    const t = k + 1;
    const norm = Math.sqrt(g0.reduce((s, x) => s + x * x, 0));
    const coef = o.clip === undefined ? 1 : Math.min(1, o.clip / (norm + 1e-6));
    const g = g0.map((x) => x * coef);
    for (let i = 0; i < w.length; i++) {
      w[i] *= 1 - o.lr * o.wd;
      m[i] = o.b1 * m[i] + (1 - o.b1) * g[i];
      v[i] = o.b2 * v[i] + (1 - o.b2) * g[i] * g[i];
      const mh = m[i] / (1 - o.b1 ** t);
      const vh = v[i] / (1 - o.b2 ** t);
      w[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return w;
}

describe("AdamW", () => {
  for (const clip of [undefined, 0.5]) {
    it(`matches a hand-computed AdamW over 3 steps (weight decay, bias correction${clip ? ", clipping" : ""})`, () => {
      const store = new ParamStore(engine);
      const w0 = [0.5, -1, 2];
      const c = [0.3, -2, 1];
      const w = store.add("w", [3], { init: { kind: "data", data: Float32Array.from(w0) }, decay: true });
      const bias = store.add("bias", [1], { init: { kind: "constant", value: 1 } }); // no decay by default (rank 1)
      store.initialize(new Rng(0));
      const opt = new AdamW(store, { lr: 0.1, weightDecay: 0.1, eps: 1e-9, clipNorm: clip });
      const g = compile(engine, {
        mode: "train",
        params: store,
        optimizer: opt,
        build: (b) => ({ loss: b.add(b.sum(b.mul(w, b.constant(Float32Array.from(c), [3]))), b.sum(bias)) }),
      });
      const res = [g.run({}), g.run({}), g.run({})];
      // grads: c for w, 1 for bias; the global norm covers both
      const gnorm = Math.sqrt(c.reduce((s, x) => s + x * x, 0) + 1);
      expect(res[0].gradNorm).toBeCloseTo(gnorm, 5);
      const coefScale = clip ? Math.min(1, clip / (gnorm + 1e-6)) : 1;
      const refW = adamwRef(w0, [c, c, c].map((gg) => gg.map((x) => x * coefScale)), { lr: 0.1, wd: 0.1, b1: 0.9, b2: 0.999, eps: 1e-9 });
      const refB = adamwRef([1], [[coefScale], [coefScale], [coefScale]], { lr: 0.1, wd: 0, b1: 0.9, b2: 0.999, eps: 1e-9 });
      store.read(w).forEach((x, i) => expect(x).toBeCloseTo(refW[i], 5));
      expect(store.read(bias)[0]).toBeCloseTo(refB[0], 5);
      expect(opt.step).toBe(3);
      g.dispose();
      opt.dispose();
      store.dispose();
    });
  }

  it("lr schedules: warmup then cosine / linear", () => {
    const cos = { kind: "cosine", lr: 1, warmup: 10, totalSteps: 110, minLr: 0.1 } as const;
    expect(lrAt(cos, 0)).toBe(0);
    expect(lrAt(cos, 5)).toBeCloseTo(0.5);
    expect(lrAt(cos, 10)).toBeCloseTo(1);
    expect(lrAt(cos, 60)).toBeCloseTo(0.55);
    expect(lrAt(cos, 110)).toBeCloseTo(0.1);
    expect(lrAt({ kind: "linear", lr: 1, warmup: 0, totalSteps: 100 }, 25)).toBeCloseTo(0.75);
  });
});

// A tiny sequence model: embedding -> layerNorm -> dropout -> GELU FFN -> tied output, CE with padding ignored.
const V = 40, D = 16, B = 4, L = 6;
function tinyModel(seed: number) {
  const store = new ParamStore(engine);
  const emb = store.add("emb", [V, D]);
  const g = store.add("ln.weight", [D], { init: { kind: "ones" } });
  const be = store.add("ln.bias", [D]);
  const w1 = store.add("ffn.w1", [2 * D, D], { init: { kind: "xavierUniform" } });
  const b1 = store.add("ffn.b1", [2 * D]);
  const w2 = store.add("ffn.w2", [D, 2 * D], { init: { kind: "xavierUniform" } });
  store.initialize(new Rng(seed));
  const opt = new AdamW(store, { lr: 0.01, eps: 1e-9, clipNorm: 5 });
  const dropRng = new Rng(seed + 1);
  const graph = compile(engine, {
    mode: "train",
    params: store,
    optimizer: opt,
    rng: dropRng,
    build: (b) => {
      const ids = b.input("ids", [B, L], "i32");
      const tgt = b.input("targets", [B * L], "i32");
      let h = b.layerNorm(b.embedding(emb, ids), g, be);
      h = b.dropout(h, 0.2);
      h = b.add(h, b.linear(b.gelu(b.linear(h, w1, b1)), w2));
      const logits = b.matmulNT(b.reshape(h, [B * L, D]), emb);
      return { loss: b.crossEntropy(logits, tgt, { ignoreIndex: 0 }) };
    },
  });
  return { store, opt, graph, dropRng };
}

function batch(step: number) {
  const r = new Rng(1000 + step);
  const ids = new Int32Array(B * L);
  const targets = new Int32Array(B * L);
  for (let i = 0; i < B * L; i++) {
    const pad = i % L < 2 && (i / L) % 2 < 1; // some left padding
    ids[i] = pad ? 0 : r.int(1, V);
    targets[i] = pad ? 0 : ((ids[i] * 3) % (V - 1)) + 1;
  }
  return { ids, targets };
}

function train(m: ReturnType<typeof tinyModel>, from: number, to: number): number[] {
  const losses: number[] = [];
  for (let s = from; s < to; s++) losses.push(m.graph.run(batch(s % 4)).loss);
  return losses;
}

function disposeModel(m: { store: ParamStore; opt: AdamW; graph: Graph }) {
  m.graph.dispose();
  m.opt.dispose();
  m.store.dispose();
}

describe("training", () => {
  it("a tiny embedding model's loss falls", () => {
    const m = tinyModel(7);
    const losses = train(m, 0, 60);
    expect(losses[0]).toBeGreaterThan(Math.log(V) - 0.5);
    expect(losses.slice(-4).reduce((a, c) => a + c) / 4).toBeLessThan(losses[0] * 0.5);
    disposeModel(m);
  });

  it("rows with an ignored target add no loss and no gradient: changing their inputs changes nothing", () => {
    const a = tinyModel(3);
    const b = tinyModel(3);
    const x = batch(0);
    // The model mixes nothing across positions, so only the ignored rows see the new ids.
    const ids = x.ids.slice();
    let changed = 0;
    for (let i = 0; i < ids.length; i++) {
      if (x.targets[i] === 0) {
        ids[i] = 1 + (i % (V - 1));
        changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
    const y = { ids, targets: x.targets };
    expect(a.graph.run(x).loss).toBe(b.graph.run(y).loss);
    for (const p of a.store.list()) expect(a.store.read(p)).toEqual(b.store.read(p.name));
    disposeModel(a);
    disposeModel(b);
  });
});

describe("checkpoints", () => {
  it("resume gives bit-identical parameters: 2N steps == N + save + load (fresh model) + N", () => {
    const N = 5;
    const full = tinyModel(11);
    train(full, 0, 2 * N);

    const first = tinyModel(11);
    train(first, 0, N);
    const path = join(dir, "ckpt.safetensors");
    saveCheckpoint(path, { store: first.store, optimizer: first.opt, rngs: { dropout: first.dropRng } }, { epoch: 1, best: 0.25 });
    disposeModel(first);

    const resumed = tinyModel(999); // different init and rng: everything must come from the file
    const meta = loadCheckpoint(path, { store: resumed.store, optimizer: resumed.opt, rngs: { dropout: resumed.dropRng } });
    expect(meta).toEqual({ epoch: 1, best: 0.25 });
    expect(resumed.opt.step).toBe(N);
    train(resumed, N, 2 * N);
    for (const p of full.store.list()) expect(Buffer.from(resumed.store.read(p.name).buffer)).toEqual(Buffer.from(full.store.read(p).buffer));
    disposeModel(full);
    disposeModel(resumed);
  });

  it("is valid safetensors (header length, F32 entries, metadata)", () => {
    const m = tinyModel(1);
    const path = join(dir, "plain.safetensors");
    saveCheckpoint(path, { store: m.store });
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const h = JSON.parse(buf.subarray(8, 8 + n).toString());
    expect(h["param/emb"]).toEqual({ dtype: "F32", shape: [V, D], data_offsets: [0, V * D * 4] });
    expect(h.__metadata__.format).toBe("reclm-checkpoint");
    expect(buf.length).toBe(8 + n + m.store.size * 4);
    disposeModel(m);
  });

  it("rejects a checkpoint whose tensor shape differs, naming the tensor, and leaves the model untouched", () => {
    const m = tinyModel(1);
    const path = join(dir, "shape.safetensors");
    saveCheckpoint(path, { store: m.store });
    const buf = readFileSync(path);
    const n = Number(buf.readBigUInt64LE(0));
    const h = JSON.parse(buf.subarray(8, 8 + n).toString());
    h["param/ffn.b1"].shape = [2 * D + 1];
    let json = JSON.stringify(h);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(path, Buffer.concat([head, Buffer.from(json), buf.subarray(8 + n)]));
    const before = m.store.read("emb");
    expect(() => loadCheckpoint(path, { store: m.store })).toThrowError(expect.objectContaining({ code: "RECLM_ERR_BAD_CHECKPOINT", message: expect.stringContaining('"param/ffn.b1"') }));
    expect(m.store.read("emb")).toEqual(before);
    writeFileSync(path, "garbage");
    expect(() => loadCheckpoint(path, { store: m.store })).toThrowError(expect.objectContaining({ code: "RECLM_ERR_BAD_CHECKPOINT" }));
    disposeModel(m);
  });
});
