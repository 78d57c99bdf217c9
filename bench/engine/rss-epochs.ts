/**
 * Leak check: RSS over 50 "epochs" of a small model. Each epoch compiles fresh graphs (worst case: models that
 * rebuild per epoch) — two train graphs of different batch sizes taking turns in one shared compute buffer (a
 * ComputeAllocator, as the trainer's per-row-count graphs) and an eval graph — runs 20 train steps + 1 eval, disposes
 * them all, and saves a checkpoint. Prints RSS after epoch 1, 10 and 50.
 *   npx tsx bench/engine/rss-epochs.ts [--epochs 50]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdamW, ComputeAllocator, Engine, ParamStore, compile, saveCheckpoint } from "../../src/engine/index.ts";
import { Rng } from "../../src/rng.ts";
import { writeBenchResult } from "../lib/results.ts";

const i = process.argv.indexOf("--epochs");
const epochs = i > 0 ? Number(process.argv[i + 1]) : 50;
const B = 32, L = 20, V = 500, D = 32;
const engine = Engine.create({ threads: 1 });
const store = new ParamStore(engine);
const emb = store.add("emb", [V, D]);
const g = store.add("ln.weight", [D], { init: { kind: "ones" } });
const be = store.add("ln.bias", [D]);
const w = store.add("w", [D, D]);
store.initialize(new Rng(1));
const opt = new AdamW(store, { lr: 1e-3, clipNorm: 5 });
const dir = mkdtempSync(join(tmpdir(), "reclm-rss-"));
const rng = new Rng(2);
const ids = Int32Array.from({ length: B * L }, () => rng.int(0, V));
const targets = Int32Array.from({ length: B * L }, () => rng.int(0, V));
const forward = (b: Parameters<Parameters<typeof compile>[1]["build"]>[0], rows = B) => {
  const x = b.input("ids", [rows, L], "i32");
  let h = b.layerNorm(b.embedding(emb, x), g, be);
  h = b.dropout(b.gelu(b.linear(h, w)), 0.1);
  return b.matmulNT(b.reshape(h, [rows * L, D]), emb);
};
const half = B / 2;
const trainGraph = (rows: number, allocator: ComputeAllocator) =>
  compile(engine, {
    mode: "train",
    params: store,
    optimizer: opt,
    rng,
    allocator,
    build: (b) => ({ loss: b.crossEntropy(forward(b, rows), b.input("targets", [rows * L], "i32"), { ignoreIndex: 0 }) }),
  });
const rss: number[] = [];
for (let e = 0; e < epochs; e++) {
  const allocator = new ComputeAllocator(engine);
  const train = trainGraph(B, allocator); // biggest first: the buffer never moves
  const trainHalf = trainGraph(half, allocator);
  const evalG = compile(engine, { mode: "eval", params: store, build: (b) => ({ outputs: { logits: forward(b) } }) });
  for (let s = 0; s < 20; s++) {
    if (s % 2 === 0) train.run({ ids, targets });
    else trainHalf.run({ ids: ids.subarray(0, half * L), targets: targets.subarray(0, half * L) });
  }
  evalG.run({ ids });
  evalG.read("logits");
  train.dispose();
  trainHalf.dispose();
  allocator.dispose();
  evalG.dispose();
  saveCheckpoint(join(dir, "ckpt.safetensors"), { store, optimizer: opt }, { epoch: e });
  rss.push(process.memoryUsage().rss / 2 ** 20);
}
rmSync(dir, { recursive: true, force: true });
const at = (k: number) => rss[Math.min(k, rss.length) - 1];
console.log(`RSS MiB after epoch 1: ${at(1).toFixed(1)}, 10: ${at(10).toFixed(1)}, ${epochs}: ${at(epochs).toFixed(1)}`);
writeBenchResult({
  benchmark: "engine-rss-epochs",
  command: `npx tsx bench/engine/rss-epochs.ts --epochs ${epochs}`,
  inputs: [],
  rows: [{
    method: "engine",
    dataset: "synthetic",
    protocol: "memory",
    metrics: { rss_epoch1_mib: +at(1).toFixed(1), rss_epoch10_mib: +at(10).toFixed(1), rss_last_mib: +at(epochs).toFixed(1), growth_10_to_last_mib: +(at(epochs) - at(10)).toFixed(1) },
    notes: `${epochs} epochs; each compiles+disposes two train graphs sharing one compute buffer and an eval graph, 20 steps (alternating), saves a checkpoint`,
  }],
});
opt.dispose();
store.dispose();
engine.dispose();
