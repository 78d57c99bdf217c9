/**
 * Where the time of a SASRec-sized training step goes: each major piece as its own "grad" graph at the real sizes
 * (R labelled rows × V items, D hidden), variants run interleaved in one process (the machine is shared: compare the
 * min of many repetitions, not single runs).
 *   npx tsx bench/engine/parts.ts [--threads 1] [--reps 5] [--R 25600] [--V 3417] [--D 64] [--only name,name]
 * Pieces (each is fwd+bwd unless named fwd):
 *   mm.fwd        logits = h·Eᵀ forward only (eval graph)
 *   mm.fwd+sum    forward + sum (the cost the backward pieces are measured on top of)
 *   mm.dE         ... + backward, only E trainable (ggml MUL_MAT backward for src0: OUT_PROD)
 *   mm.dh         ... + backward, only h trainable (OUT_PROD with a transposed grad)
 *   ce            crossEntropy over a logits parameter [R, V] (softmax, get_rows, log; backward)
 *   ce.fwd        the same, eval
 *   head          h·Eᵀ + crossEntropy, both trainable: the output head of the step
 *   att.view      causal attention (B 128, L 200, 2 heads of 32) on permuted-view heads, as SASRec builds it
 *   att.contQ     the same with the query heads made contiguous first
 *   gelu, gelu.softplus  GELU fwd+bwd on [128, 256, 256]: the builder's composition (SiLU) vs the previous one
 *   scan.tree, scan.chunked  LRURec's scan on a packed ML-1M activation [56, 256, 256]: the authors' log2(L) tree vs
 *                 reclm's chunks of 16 (src/models/lrurec.ts lruScanChunked)
 * --profile prints each piece's nodes (Graph.profile) after the timings.
 */
import { compile, Engine, ParamStore, type Builder, type Graph, type Tensor } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";
import { chunkedScanConstants, lruScan, lruScanChunked, scanConstants } from "../../src/models/lrurec.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const threads = Number(arg("threads", "1"));
const reps = Number(arg("reps", "5"));
const R = Number(arg("R", "25600"));
const V = Number(arg("V", "3417"));
const D = Number(arg("D", "64"));
const only = arg("only", "");

const engine = Engine.create({ threads });
const rng = new Rng(1);
const targets = Int32Array.from({ length: R }, (_, i) => (i % 7 === 0 ? 0 : 1 + rng.int(0, V - 1)));

interface Piece {
  name: string;
  graph: Graph;
  inputs: Record<string, Int32Array | Float32Array>;
  dispose: () => void;
}

function piece(name: string, shapes: Record<string, number[]>, trainable: string[], mode: "eval" | "grad", build: (b: Builder, p: Record<string, Tensor>) => { loss?: Tensor; out?: Tensor }, inputs: Record<string, Int32Array | Float32Array> = {}): Piece {
  const store = new ParamStore(engine);
  const p: Record<string, Tensor> = {};
  for (const [n, s] of Object.entries(shapes)) p[n] = store.add(n, s, { init: { kind: "normal", std: 0.5 }, trainable: trainable.includes(n) });
  store.initialize(new Rng(2));
  const graph = compile(engine, {
    mode,
    params: store,
    build: (b) => {
      const r = build(b, p);
      return r.loss ? { loss: r.loss } : { outputs: { out: r.out! } };
    },
  });
  return { name, graph, inputs, dispose: () => (graph.dispose(), store.dispose()) };
}

const mmShapes = { h: [R, D], E: [V, D] };
const builders: Record<string, () => Piece> = {
  "mm.fwd": () => piece("mm.fwd", mmShapes, [], "eval", (b, p) => ({ out: b.matmulNT(p.h, p.E) })),
  "mm.fwd+sum": () => piece("mm.fwd+sum", mmShapes, [], "eval", (b, p) => ({ out: b.sum(b.matmulNT(p.h, p.E)) })),
  "mm.dE": () => piece("mm.dE", mmShapes, ["E"], "grad", (b, p) => ({ loss: b.sum(b.matmulNT(p.h, p.E)) })),
  "mm.dh": () => piece("mm.dh", mmShapes, ["h"], "grad", (b, p) => ({ loss: b.sum(b.matmulNT(p.h, p.E)) })),
  "ce.fwd": () => piece("ce.fwd", { z: [R, V] }, [], "eval", (b, p) => ({ out: b.crossEntropy(p.z, b.input("t", [R], "i32"), { ignoreIndex: 0 }) }), { t: targets }),
  ce: () => piece("ce", { z: [R, V] }, ["z"], "grad", (b, p) => ({ loss: b.crossEntropy(p.z, b.input("t", [R], "i32"), { ignoreIndex: 0 }) }), { t: targets }),
  head: () => piece("head", mmShapes, ["h", "E"], "grad", (b, p) => ({ loss: b.crossEntropy(b.matmulNT(p.h, p.E), b.input("t", [R], "i32"), { ignoreIndex: 0 }) }), { t: targets }),
};

// Attention as SASRec builds it: heads are permuted views of [B, L, D] projections.
const [AB, AL, AH, Adk] = [Number(arg("B", "128")), Number(arg("L", "200")), 2, 32];
const attention = (contQ: boolean) => (b: Builder, p: Record<string, Tensor>) => {
  const heads = (t: Tensor) => b.permute(b.reshape(t, [AB, AL, AH, Adk]), [0, 2, 1, 3]);
  const Q = heads(p.q), K = heads(p.k), V = heads(p.v);
  const probs = b.softmax(b.matmulNT(contQ ? b.cont(Q) : Q, K), { scale: 0.17, causal: true });
  return { loss: b.sum(b.matmul(probs, V)) };
};
const attShapes = { q: [AB, AL, AH * Adk], k: [AB, AL, AH * Adk], v: [AB, AL, AH * Adk] };
builders["att.view"] = () => piece("att.view", attShapes, ["q", "k", "v"], "grad", attention(false));
builders["att.contQ"] = () => piece("att.contQ", attShapes, ["q", "k", "v"], "grad", attention(true));

// GELU on an LRURec FFN activation [128, 256, 256]: the builder's op (through SiLU) vs the previous composition.
const geluShapes = { x: [AB, 256, 256] };
builders.gelu = () => piece("gelu", geluShapes, ["x"], "grad", (b, p) => ({ loss: b.sum(b.gelu(p.x)) }));
builders["gelu.softplus"] = () =>
  piece("gelu.softplus", geluShapes, ["x"], "grad", (b, p) => {
    const x = p.x;
    const minus2z = b.scale(b.add(x, b.scale(b.mul(b.sqr(x), x), 0.044715)), -2 * Math.sqrt(2 / Math.PI));
    return { loss: b.sum(b.mul(x, b.exp(b.neg(b.softplus(minus2z))))) };
  });

// LRURec's scan on a packed ML-1M step's activation [56 rows, 256, C 256]: u, nu, theta trainable, real mask.
const [SB, SL, SC] = [Number(arg("SB", "56")), 256, 256];
const scanShapes = { u: [SB, SL, SC], nu: [1, SC / 2], theta: [1, SC / 2] };
const scanMask = Float32Array.from({ length: SB * SL }, (_, i) => (i % SL < 20 ? 0 : 1));
builders["scan.tree"] = () =>
  piece("scan.tree", scanShapes, ["u", "nu", "theta"], "grad", (b, p) => {
    const mask = b.input("mask", [SB, SL]);
    const consts = scanConstants(b, SL, SC / 2);
    return { loss: b.sum(b.sqr(lruScan(b, p.u, mask, b.exp(b.scale(p.nu, 0.1)), b.exp(b.scale(p.theta, 0.1)), consts))) };
  }, { mask: scanMask });

builders["scan.chunked"] = () =>
  piece("scan.chunked", scanShapes, ["u", "nu", "theta"], "grad", (b, p) => {
    const mask = b.input("mask", [SB, SL]);
    const consts = chunkedScanConstants(b, mask, SC / 2);
    return { loss: b.sum(b.sqr(lruScanChunked(b, p.u, b.exp(b.scale(p.nu, 0.1)), b.exp(b.scale(p.theta, 0.1)), consts))) };
  }, { mask: scanMask });

const names = only ? only.split(",") : Object.keys(builders);
const pieces = names.map((n) => {
  const f = builders[n];
  if (!f) throw new Error(`unknown piece ${n} (have ${Object.keys(builders).join(", ")})`);
  return f();
});
const times = new Map<string, number[]>(pieces.map((p) => [p.name, []]));
// CPU time of the process (user+sys): far less load-dependent than wall time on a shared machine with 1 thread.
const cpu = new Map<string, number[]>(pieces.map((p) => [p.name, []]));
for (const p of pieces) p.graph.run(p.inputs); // warm-up (page faults of the compute buffers)
for (let r = 0; r < reps; r++) {
  for (const p of pieces) {
    const c = process.cpuUsage();
    const t = performance.now();
    p.graph.run(p.inputs);
    times.get(p.name)!.push(performance.now() - t);
    const dc = process.cpuUsage(c);
    cpu.get(p.name)!.push((dc.user + dc.system) / 1000);
  }
}
const load = (await import("node:os")).loadavg()[0];
console.log(`R=${R} V=${V} D=${D}, ${threads} thread(s), ${reps} reps interleaved, load avg ${load.toFixed(2)}`);
for (const p of pieces) {
  const t = [...times.get(p.name)!].sort((a, b) => a - b);
  const c = [...cpu.get(p.name)!].sort((a, b) => a - b);
  console.log(`${p.name.padEnd(12)} cpu min ${c[0].toFixed(1).padStart(8)} ms  wall min ${t[0].toFixed(1).padStart(8)} ms  median ${t[Math.floor(t.length / 2)].toFixed(1).padStart(8)} ms  (${p.graph.nodeCount} nodes, ${(p.graph.computeBytes / 2 ** 20).toFixed(0)} MiB)`);
}
if (process.argv.includes("--profile")) {
  for (const p of pieces) {
    const { nodes } = p.graph.profile(p.inputs);
    console.log(`${p.name}:`);
    for (const n of nodes) if (n.cpuMs > 1) console.log(`  #${n.index} ${n.op.padEnd(14)} ne [${n.ne.join(",")}] ${n.cpuMs.toFixed(1)} ms`);
  }
}
for (const p of pieces) p.dispose();
engine.dispose();
