/**
 * A minimal, trainer-free harness for testing one NeuralModelDefinition: left-padded batches, a graph of
 * encode → scores → loss, whole-model finite-difference gradient checks, short training runs.
 * The shared trainer (src/models/neural/trainer.ts) is the real loop; this only exercises a model's own code.
 */
import { expect } from "vitest";
import { AdamW, compile, type Builder, type Engine, type Graph, ParamStore, type Tensor } from "../../src/engine/index.ts";
import type { BaseModelConfig, ModelContext, NeuralModelDefinition } from "../../src/models/neural/contract.ts";
import { Rng } from "../../src/rng.ts";
import type { SequenceDataset } from "../../src/contracts.ts";
import type { Objective } from "../../src/models/neural/contract.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../src/models/neural/examples.ts";
import { fdRoundingUnit } from "../engine/gradcheck.ts";

export interface Batch {
  ids: Int32Array;
  mask: Float32Array;
  positions: Int32Array;
  /** "last": [B]; "cloze": [B·L] (0 = not a target). */
  targets: Int32Array;
}

/** Histories (chronological, no padding) → LEFT-padded ids/mask/positions [B, L], as the trainer builds them. */
export function leftPad(histories: readonly Int32Array[], L: number): Omit<Batch, "targets"> {
  const B = histories.length;
  const ids = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  const positions = new Int32Array(B * L);
  histories.forEach((h, b) => {
    const s = h.subarray(Math.max(0, h.length - L));
    const off = L - s.length;
    for (let i = 0; i < s.length; i++) {
      ids[b * L + off + i] = s[i];
      mask[b * L + off + i] = 1;
      positions[b * L + off + i] = i + 1;
    }
  });
  return { ids, mask, positions };
}

/** B random (prefix → next item) examples from the train sequences: the "last" objective's examples. */
export function lastBatch(ds: SequenceDataset, B: number, L: number, rng: Rng): Batch {
  const hist: Int32Array[] = [];
  const targets = new Int32Array(B);
  while (hist.length < B) {
    const seq = ds.train[rng.int(0, ds.train.length)];
    if (seq.length < 2) continue;
    const cut = rng.int(1, seq.length);
    targets[hist.length] = seq[cut];
    hist.push(seq.subarray(0, cut));
  }
  return { ...leftPad(hist, L), targets };
}

export interface ModelUnderTest<C extends BaseModelConfig, P = unknown> {
  def: NeuralModelDefinition<C, P>;
  config: C;
  nItems: number;
  store: ParamStore;
  params: P;
  ctx: ModelContext;
}

export function instantiate<C extends BaseModelConfig, P>(engine: Engine, def: NeuralModelDefinition<C, P>, config: C, nItems: number): ModelUnderTest<C, P> {
  const store = new ParamStore(engine);
  const ctx: ModelContext = { nItems, windowLen: def.windowLength(config) };
  const params = def.declare(store, ctx, config);
  const rng = new Rng(config.seed);
  store.initialize(rng);
  def.afterInit?.(store, params, config, rng);
  return { def, config, nItems, store, params, ctx };
}

/** The graph inputs of one batch and the model's encoder output. */
export function encodeInputs<C extends BaseModelConfig>(b: Builder, m: ModelUnderTest<C>, B: number): Tensor {
  const L = m.ctx.windowLen;
  const x = { ids: b.input("ids", [B, L], "i32"), mask: b.input("mask", [B, L]), positions: b.input("positions", [B, L], "i32") };
  return m.def.encode(b, m.params, x, m.ctx, m.config);
}

/** Scores of every encoded row: [B, V] ("last") or [B·L, V] (per position). */
export function scoreRows<C extends BaseModelConfig>(b: Builder, m: ModelUnderTest<C>, h: Tensor): Tensor {
  const rows = h.rank === 3 ? b.reshape(h, [h.shape[0] * h.shape[1], h.shape[2]]) : h;
  return m.def.scores(b, m.params, rows, m.ctx, m.config);
}

/** CE graph: "last" → targets [B]; per-position encoders → targets [B·L] with ignore 0. */
export function lossGraph<C extends BaseModelConfig>(engine: Engine, m: ModelUnderTest<C>, B: number, mode: "train" | "grad" | "eval", opt?: AdamW, maxNodes?: number): Graph {
  return compile(engine, {
    mode,
    params: m.store,
    optimizer: opt,
    rng: new Rng(m.config.seed + 1),
    maxNodes,
    build: (b) => {
      const s = scoreRows(b, m, encodeInputs(b, m, B));
      const targets = b.input("targets", [s.shape[0]], "i32");
      return { loss: b.crossEntropy(s, targets, { ignoreIndex: 0 }), outputs: { scores: s } };
    },
  });
}

export function optimizerFor<C extends BaseModelConfig>(m: ModelUnderTest<C>, lr = m.config.lr): AdamW {
  return new AdamW(m.store, { lr, eps: m.config.eps, weightDecay: m.config.weightDecay, clipNorm: m.config.clipNorm || undefined });
}

export function runInputs(batch: Batch): Record<string, Int32Array | Float32Array> {
  return { ids: batch.ids, mask: batch.mask, positions: batch.positions, targets: batch.targets };
}

export interface ModelGradCheck {
  /**
   * max over checked elements of |fd − analytic| / max(|fd|, |analytic|, floor), floor = the larger of 0.05·(largest
   * |analytic| of that parameter) and 24·fdRoundingUnit (what f32 resolves in a central difference of the loss).
   */
  maxRelErr: number;
  worst: string;
  /** Parameters whose whole gradient is exactly zero (disconnected from the output). */
  deadParams: string[];
  checked: number;
}

/**
 * Whole-model gradient check: params re-drawn N(0, scale²) so gradients are O(1) (at the 0.02-std init they are
 * too small for a relative check to mean anything); loss = Σ scores ⊙ R for a fixed random R; up to
 * `perParam` random elements per parameter perturbed ±eps (dropout masks held fixed).
 */
export function gradCheckModel<C extends BaseModelConfig>(
  engine: Engine,
  m: ModelUnderTest<C>,
  batch: Omit<Batch, "targets">,
  B: number,
  options: { scale?: number; eps?: number; perParam?: number; seed?: number } = {},
): ModelGradCheck {
  const rng = new Rng(options.seed ?? 5);
  for (const p of m.store.list()) m.store.write(p, Float32Array.from({ length: p.numel }, () => rng.normal() * (options.scale ?? 0.5)));
  const g = compile(engine, {
    mode: "grad",
    params: m.store,
    rng: new Rng(11),
    build: (b) => {
      const s = scoreRows(b, m, encodeInputs(b, m, B));
      const r = Float32Array.from({ length: s.numel }, () => rng.normal());
      const terms = b.mul(s, b.constant(r, s.shape));
      return { loss: b.sum(terms), outputs: { magnitude: b.sum(b.abs(terms)) } };
    },
  });
  try {
    const inputs = { ids: batch.ids, mask: batch.mask, positions: batch.positions };
    g.run(inputs);
    const magnitude = g.read("magnitude")[0];
    const analytic = new Map(m.store.list().map((p) => [p, g.grad(p)]));
    const eps = options.eps ?? 1e-2;
    // Per parameter, so a deep parameter's small gradients are not excused by the head's large ones; but never
    // below f32's resolution: 24·u keeps rounding (up to ~0.25·u) under the 2e-2 asked, with a 2x margin.
    const noise = 24 * fdRoundingUnit(magnitude, eps);
    let maxRelErr = 0;
    let worst = "";
    let checked = 0;
    const deadParams: string[] = [];
    for (const p of m.store.list()) {
      const ga = analytic.get(p)!;
      if (ga.every((v) => v === 0)) deadParams.push(p.name);
      let pScale = 0;
      for (const v of ga) pScale = Math.max(pScale, Math.abs(v));
      const floor = Math.max(0.05 * pScale, noise);
      const orig = m.store.read(p);
      const n = Math.min(orig.length, options.perParam ?? 16);
      const idx = orig.length <= n ? [...orig.keys()] : Array.from({ length: n }, () => rng.int(0, orig.length));
      for (const i of idx) {
        const x = orig.slice();
        x[i] = orig[i] + eps;
        m.store.write(p, x);
        const lp = g.run(inputs, { keepDropoutMasks: true }).loss;
        x[i] = orig[i] - eps;
        m.store.write(p, x);
        const lm = g.run(inputs, { keepDropoutMasks: true }).loss;
        const fd = (lp - lm) / (2 * eps);
        const rel = Math.abs(fd - ga[i]) / Math.max(Math.abs(fd), Math.abs(ga[i]), floor);
        checked++;
        if (rel > maxRelErr) {
          maxRelErr = rel;
          worst = `${p.name}[${i}]: analytic ${ga[i]} vs numeric ${fd}`;
        }
      }
      m.store.write(p, orig);
    }
    return { maxRelErr, worst, deadParams, checked };
  } finally {
    g.dispose();
  }
}

/** Encoder output and scores for one batch in an eval graph (no dropout). */
export function forwardShapes<C extends BaseModelConfig>(engine: Engine, m: ModelUnderTest<C>, batch: Omit<Batch, "targets">, B: number) {
  let hShape: readonly number[] = [];
  let sShape: readonly number[] = [];
  const g = compile(engine, {
    mode: "eval",
    params: m.store,
    build: (b) => {
      const h = encodeInputs(b, m, B);
      const s = scoreRows(b, m, h);
      hShape = h.shape;
      sShape = s.shape;
      return { outputs: { h, s } };
    },
  });
  try {
    g.run({ ids: batch.ids, mask: batch.mask, positions: batch.positions });
    return { hShape, sShape, h: g.read("h"), s: g.read("s"), nodes: g.nodeCount };
  } finally {
    g.dispose();
  }
}

/** nn.GRU (one layer) in plain f64 over an unpadded sequence of input vectors: every state, PyTorch gate order. */
export function referenceGru(
  read: (name: string) => Float32Array,
  prefix: string,
  xs: readonly number[][],
  H: number,
): number[][] {
  const Wi = read(`${prefix}.weight_ih_l0`), Wh = read(`${prefix}.weight_hh_l0`), bi = read(`${prefix}.bias_ih_l0`), bh = read(`${prefix}.bias_hh_l0`);
  const In = Wi.length / (3 * H);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  let h = new Array<number>(H).fill(0);
  const states: number[][] = [];
  for (const x of xs) {
    const gi = (row: number) => bi[row] + x.reduce((s, v, k) => s + Wi[row * In + k] * v, 0);
    const gh = (row: number) => bh[row] + h.reduce((s, v, k) => s + Wh[row * H + k] * v, 0);
    h = h.map((hj, j) => {
      const r = sig(gi(j) + gh(j));
      const z = sig(gi(H + j) + gh(H + j));
      const n = Math.tanh(gi(2 * H + j) + r * gh(2 * H + j));
      return (1 - z) * n + z * hj;
    });
    states.push(h);
  }
  return states;
}

/** Rows of a row-major [n, d] table as arrays. */
export function rowOf(table: Float32Array, row: number, d: number): number[] {
  return Array.from(table.subarray(row * d, (row + 1) * d));
}

/** Overwrites every parameter with N(0, scale²) values (init-scale weights keep activations near-linear). */
export function randomizeParams(store: ParamStore, scale: number, seed: number): void {
  const rng = new Rng(seed);
  for (const p of store.list()) store.write(p, Float32Array.from({ length: p.numel }, () => rng.normal() * scale));
}

/** B cloze examples (the trainer's windows and masking, src/models/neural/examples.ts) from the train sequences. */
export function clozeBatch(ds: SequenceDataset, B: number, L: number, objective: Objective, rng: Rng): Batch {
  const ex = buildExamples(ds, objective, L);
  const out = allocBatch(B, L, objective);
  const idx = Array.from({ length: B }, () => rng.int(0, ex.length));
  fillTrainBatch(out, ds, ex, idx, objective, L, L, rng);
  return { ids: out.ids, mask: out.mask, positions: out.positions, targets: out.labels };
}

/**
 * Losses of `steps` AdamW steps (learning rate `lr`, batch size B) of a fresh model built from `config`, on batches
 * drawn by `batch` from Rng(config.seed): the short run the model tests use to check that the loss falls and that
 * a seed reproduces the run exactly. Frees everything it made.
 */
export function trainLosses<C extends BaseModelConfig>(
  engine: Engine,
  def: NeuralModelDefinition<C>,
  config: C,
  nItems: number,
  run: { B: number; lr: number; steps: number; batch: (rng: Rng, m: ModelUnderTest<C>) => Batch },
): number[] {
  const m = instantiate(engine, def, config, nItems);
  const opt = optimizerFor(m, run.lr);
  const g = lossGraph(engine, m, run.B, "train", opt);
  const rng = new Rng(config.seed);
  const losses: number[] = [];
  try {
    for (let s = 0; s < run.steps; s++) losses.push(g.run(runInputs(run.batch(rng, m))).loss);
  } finally {
    g.dispose();
    opt.dispose();
    m.store.dispose();
  }
  return losses;
}

/**
 * The short-run check the model tests share, over `run(seed, steps)` (e.g. trainLosses): the mean loss of the last
 * `window` steps is at least `drop` below the first `window`'s; the same seed repeats the run's first `rerun` steps
 * (default 5; `steps` for the whole run) exactly and another seed starts elsewhere. With `nItems`, the first loss is also
 * near log(nItems + 1), a uniform guess's loss.
 * Returns the long run's losses.
 */
export function expectLossFallsReproducibly(
  run: (seed: number, steps: number) => number[],
  o: { steps: number; window: number; drop: number; nItems?: number; rerun?: number },
): number[] {
  const a = run(1, o.steps);
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  if (o.nItems !== undefined) expect(a[0]).toBeCloseTo(Math.log(o.nItems + 1), 0);
  expect(mean(a.slice(-o.window))).toBeLessThan(mean(a.slice(0, o.window)) - o.drop);
  const rerun = o.rerun ?? 5;
  expect(run(1, rerun)).toEqual(a.slice(0, rerun));
  expect(run(2, 1)[0]).not.toBe(a[0]);
  return a;
}

/**
 * Eval-graph scores of `histories` (left-padded to L) equal `reference(history's last L items)` to 4 decimals for
 * every row, with encoder output [B, hidden] and scores [B, nItems + 1].
 */
export function expectScoresMatchReference<C extends BaseModelConfig>(
  engine: Engine,
  m: ModelUnderTest<C>,
  histories: readonly Int32Array[],
  L: number,
  shape: { hidden: number; vocab: number },
  reference: (history: Int32Array) => number[],
): void {
  const B = histories.length;
  const out = forwardShapes(engine, m, leftPad(histories, L), B);
  expect(out.hShape).toEqual([B, shape.hidden]);
  expect(out.sShape).toEqual([B, shape.vocab]);
  histories.forEach((h, b) => {
    const ref = reference(h.subarray(Math.max(0, h.length - L)));
    ref.forEach((v, j) => expect(out.s[b * shape.vocab + j]).toBeCloseTo(v, 4));
  });
}

/**
 * gradCheckModel on a fresh model of `config` over `histories` left-padded to L: every parameter gets a gradient and the
 * worst relative error is under 2e-2. Frees the model.
 */
export function expectModelGradientsMatch<C extends BaseModelConfig>(
  engine: Engine,
  def: NeuralModelDefinition<C>,
  config: C,
  nItems: number,
  histories: readonly Int32Array[],
  L: number,
  options: Parameters<typeof gradCheckModel>[4] = {},
): void {
  const m = instantiate(engine, def, config, nItems);
  try {
    const r = gradCheckModel(engine, m, leftPad(histories, L), histories.length, options);
    expect(r.deadParams).toEqual([]);
    expect(r.maxRelErr, r.worst).toBeLessThan(2e-2);
  } finally {
    m.store.dispose();
  }
}

/** `(seed, steps) => losses` of trainLosses on next-item batches of the train sequences, for expectLossFallsReproducibly. */
export function lastItemRun<C extends BaseModelConfig>(
  engine: Engine,
  def: NeuralModelDefinition<C>,
  config: (seed: number) => C,
  ds: SequenceDataset,
  o: { B: number; lr: number },
): (seed: number, steps: number) => number[] {
  return (seed, steps) =>
    trainLosses(engine, def, config(seed), ds.catalog.size, {
      B: o.B, lr: o.lr, steps, batch: (rng, m) => lastBatch(ds, o.B, m.config.maxLen, rng),
    });
}
