/**
 * Speed check of the engine: one SASRec-sized training step (B=64, L=50, V=2001, D=64, one causal self-attention
 * block + FFN, dropout 0.2, full-softmax cross-entropy over all items with padding ignored, AdamW + clipping).
 * Graph compiled once, reused for every step. Prints the median over 20 timed steps (after 3 warm-up steps).
 *   npx tsx bench/engine/sasrec-step.ts [--threads 2] [--steps 20]
 * Spike reference (same shape, ggml_opt with one-hot labels, libggml v0.5.0, different machine): 134 ms median.
 */
import { AdamW, Engine, ParamStore, compile } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";
import { writeBenchResult } from "../lib/results.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const threads = arg("threads", 2);
const steps = arg("steps", 20);
const B = 64, L = 50, V = 2001, D = 64;

const engine = Engine.create({ threads });
const store = new ParamStore(engine);
const emb = store.add("item_emb", [V, D]);
const pos = store.add("pos_emb", [L, D]);
const ln = (n: string) => [store.add(`${n}.weight`, [D], { init: { kind: "ones" } }), store.add(`${n}.bias`, [D])];
const lin = (n: string) => [store.add(`${n}.weight`, [D, D]), store.add(`${n}.bias`, [D])];
const [ln1g, ln1b] = ln("ln1"), [ln2g, ln2b] = ln("ln2"), [lnfg, lnfb] = ln("lnf");
const [wq, bq] = lin("q"), [wk, bk] = lin("k"), [wv, bv] = lin("v"), [wo, bo] = lin("o");
const [w1, b1] = lin("ffn1"), [w2, b2] = lin("ffn2");
store.initialize(new Rng(1));
const opt = new AdamW(store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
const t0 = performance.now();
const graph = compile(engine, {
  mode: "train",
  params: store,
  optimizer: opt,
  rng: new Rng(2),
  build: (b) => {
    const ids = b.input("ids", [B, L], "i32");
    const targets = b.input("targets", [B * L], "i32");
    const posIds = b.input("positions", [L], "i32");
    let h = b.add(b.scale(b.embedding(emb, ids), Math.sqrt(D)), b.embedding(pos, posIds));
    h = b.dropout(h, 0.2);
    const x = b.layerNorm(h, ln1g, ln1b);
    const q = b.linear(x, wq, bq), k = b.linear(h, wk, bk), v = b.linear(h, wv, bv);
    const att = b.dropout(b.softmax(b.matmulNT(q, k), { scale: 1 / Math.sqrt(D), causal: true }), 0.2);
    h = b.add(x, b.linear(b.matmul(att, v), wo, bo));
    const y = b.layerNorm(h, ln2g, ln2b);
    h = b.add(y, b.dropout(b.linear(b.dropout(b.relu(b.linear(y, w1, b1)), 0.2), w2, b2), 0.2));
    h = b.layerNorm(h, lnfg, lnfb);
    const logits = b.matmulNT(b.reshape(h, [B * L, D]), emb);
    return { loss: b.crossEntropy(logits, targets, { ignoreIndex: 0 }) };
  },
});
const compileMs = performance.now() - t0;

const rng = new Rng(3);
const positions = Int32Array.from({ length: L }, (_, i) => i);
const batches = Array.from({ length: 4 }, () => {
  const ids = new Int32Array(B * L);
  const targets = new Int32Array(B * L);
  for (let u = 0; u < B; u++) {
    const len = rng.int(5, L + 1); // left padding like SASRec
    for (let t = L - len; t < L; t++) {
      ids[u * L + t] = rng.int(1, V);
      targets[u * L + t] = rng.int(1, V);
    }
  }
  return { ids, targets, positions };
});
const times: number[] = [];
const losses: number[] = [];
for (let s = 0; s < steps + 3; s++) {
  const t = performance.now();
  const r = graph.run(batches[s % batches.length]);
  if (s >= 3) times.push(performance.now() - t);
  losses.push(r.loss);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const load = (await import("node:os")).loadavg()[0];
console.log(`compile ${compileMs.toFixed(1)} ms, ${graph.nodeCount} nodes, compute buffer ${(graph.computeBytes / 2 ** 20).toFixed(1)} MiB`);
console.log(`step median ${median.toFixed(1)} ms, min ${times[0].toFixed(1)} ms over ${steps} steps, ${threads} threads (${engine.libraries.cpu.split("/").pop()}), load avg ${load.toFixed(2)}`);
console.log(`loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
writeBenchResult({
  benchmark: "engine-sasrec-step",
  command: `npx tsx bench/engine/sasrec-step.ts --threads ${threads} --steps ${steps}`,
  inputs: [],
  rows: [
    {
      method: "sasrec",
      dataset: "synthetic",
      protocol: "train-step",
      metrics: { p50_ms: +median.toFixed(2), min_ms: +times[0].toFixed(2), compile_ms: +compileMs.toFixed(1) },
      notes: `B=${B} L=${L} V=${V} D=${D}, 1 attention block + FFN, full-softmax CE (index targets, padding ignored), AdamW+clip; ${threads} threads; load avg ${load.toFixed(2)} during run; spike reference 134 ms`,
    },
  ],
});
graph.dispose();
opt.dispose();
store.dispose();
engine.dispose();
