/**
 * Per-op profile of reclm's LoRA training step on the SmolLM2-135M-shaped model (the step bench/llm-finetune.ts
 * times): DecoderGraphs' train graph for one micro-batch, run node by node with `Graph.profile`. Prints CPU ms per
 * ggml op (summed over nodes), the biggest nodes, and where the compute buffer goes: the bytes of the nodes' outputs
 * by op (forward nodes an op's backward reads stay alive until then: the buffer's floor).
 *   npx tsx bench/engine/llm-step-profile.ts [--seq-len 1536] [--micro-batch 1] [--threads 1] [--labels last2|all]
 *     [--weight-type f32] [--top 20] [--row-path on|off] [--no-profile]   (--no-profile: compile and report the buffer only;
 *     --row-path: DecoderGraphs' `rowPath`, the last block at the labelled rows alone, default on)
 */
import { parseArgs } from "node:util";
import type { Graph } from "../../src/engine/index.ts";
import { tensorLayout, tensorSrc } from "../../src/engine/ffi/ggml.ts";
import type { GgufTensorType } from "../../src/llm/gguf-writer.ts";
import { DecoderGraphs } from "../../src/llm/train/decoder-graphs.ts";
import { Rng } from "../../src/rng.ts";
import { loraStep } from "../lib/lora-step.ts";
import { printOpTable, totalCpuMs } from "../lib/node-profile.ts";

const { values: args } = parseArgs({
  options: {
    "seq-len": { type: "string", default: "1536" },
    "micro-batch": { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
    labels: { type: "string", default: "last2" },
    "weight-type": { type: "string", default: "f32" },
    top: { type: "string", default: "20" },
    "row-path": { type: "string", default: "on" },
    "no-profile": { type: "boolean", default: false },
  },
});
const top = Number(args.top);
const labels = args.labels === "all" ? "all" : "last2";
const setup = await loraStep({ threads: Number(args.threads), seqLen: Number(args["seq-len"]), microBatch: Number(args["micro-batch"]), labels, weightType: args["weight-type"] as GgufTensorType });
const { decoder, optimizer, batch } = setup;
if (args["row-path"] !== "on" && args["row-path"] !== "off") throw new Error("--row-path takes on or off");
const rowPath = args["row-path"] === "on";
const graphs = new DecoderGraphs({ engine: decoder.engine, store: decoder.store, model: decoder.model, dropoutRng: new Rng(1), optimizer, rowPath });

const t0 = performance.now();
const loss = graphs.trainStep([batch]);
console.log(`first step (compile + run): ${(performance.now() - t0).toFixed(0)} ms, loss ${loss.toFixed(6)}; compute buffer ${(graphs.computeBytes / 2 ** 20).toFixed(0)} MiB`);
// DecoderGraphs keeps its graphs private; a benchmark may look inside.
const graph = [...(graphs as unknown as { cache: Map<string, Graph> }).cache.values()][0];
const gf = (graph as unknown as { gf: unknown }).gf;
const B = decoder.engine.ggml.base;

const VIEWS = new Set(["VIEW", "RESHAPE", "PERMUTE", "TRANSPOSE", "NONE"]);
// Output bytes per op over the whole graph (forward and backward), a map of what competes for the buffer.
const bytesByOp = new Map<string, { bytes: number; n: number }>();
for (let i = 0; i < graph.nodeCount; i++) {
  const node = B.ggml_graph_node(gf, i);
  const op = String(B.ggml_op_desc(node));
  if (VIEWS.has(op)) continue; // views own no memory
  const bytes = Number(B.ggml_nbytes(node));
  const e = bytesByOp.get(op) ?? { bytes: 0, n: 0 };
  e.bytes += bytes;
  e.n++;
  bytesByOp.set(op, e);
}
console.log(`node outputs by op (MiB, all ${graph.nodeCount} nodes; gallocr reuses memory of dead ones):`);
for (const [op, e] of [...bytesByOp].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 12)) console.log(`  ${op.padEnd(16)} ${(e.bytes / 2 ** 20).toFixed(0).padStart(7)} MiB (${e.n} nodes)`);

if (!args["no-profile"]) {
  const inputs = graphs.lossInputs(batch);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  graph.run(inputs);
  const dc = process.cpuUsage(c0);
  console.log(`run(): wall ${(performance.now() - w0).toFixed(0)} ms, cpu ${((dc.user + dc.system) / 1000).toFixed(0)} ms`);
  const { nodes } = graph.profile(inputs);
  const total = totalCpuMs(nodes);
  console.log(`profile: ${nodes.length} nodes, sum of node cpu ${total.toFixed(0)} ms`);
  printOpTable(nodes, total, { minShare: 0.005, digits: 0, width: 7 });
  // Products by output shape class: one line per (op, ne) summed over layers and blocks.
  const byShape = new Map<string, { cpu: number; n: number; macs: number }>();
  for (const n of nodes) {
    if (n.op !== "MUL_MAT" && n.op !== "OUT_PROD") continue;
    const node = B.ggml_graph_node(gf, n.index);
    const a = tensorLayout(tensorSrc(node, 0)!);
    const inner = n.op === "MUL_MAT" ? a.ne[0] : a.ne[1];
    const key = `${n.op} ne0 ${n.ne[0] === 64 || n.ne[0] === 8 ? n.ne[0] : "long"} inner ${inner <= 64 ? inner : "long"}`;
    const e = byShape.get(key) ?? { cpu: 0, n: 0, macs: 0 };
    e.cpu += n.cpuMs;
    e.n++;
    e.macs += n.ne.reduce((x, y) => x * y, 1) * inner;
    byShape.set(key, e);
  }
  console.log("  products by shape class (GMAC/s = multiply-adds per CPU second):");
  for (const [k, e] of [...byShape].sort((a, b) => b[1].cpu - a[1].cpu)) {
    if (e.cpu < total * 0.005) continue;
    console.log(`    ${k.padEnd(36)} ${e.cpu.toFixed(0).padStart(7)} ms (${e.n} nodes, ${(e.macs / 1e9).toFixed(1)} GMAC, ${(e.macs / 1e6 / e.cpu).toFixed(1)} GMAC/s)`);
  }
  console.log("  top nodes:");
  for (const n of [...nodes].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, top)) {
    const node = B.ggml_graph_node(gf, n.index);
    const srcs = [0, 1].map((k) => tensorSrc(node, k)).filter((p) => p !== null);
    console.log(`    #${String(n.index).padStart(5)} ${n.op.padEnd(16)} ne [${n.ne.join(",")}] ${n.cpuMs.toFixed(1)} ms  src ${srcs.map((p) => `${String(B.ggml_op_desc(p))}[${tensorLayout(p).ne.join(",")}]`).join(" ")}`);
  }
}
graphs.dispose();
setup.dispose();
