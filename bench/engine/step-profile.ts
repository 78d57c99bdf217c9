/**
 * Per-op profile of the trainer's real training step (the graph bench/throughput.ts times) on ML-1M:
 * B 128 × L 200, dropout 0.2, full-softmax CE over all items at every labelled position, AdamW + clip.
 * Runs `Graph.profile` (node by node, timed) and prints CPU ms per ggml op (summed over nodes), the biggest nodes,
 * and the time spent outside ggml compute (inputs, dropout masks).
 *   npx tsx bench/engine/step-profile.ts [--models sasrec,lrurec] [--threads 1] [--reps 2] [--top 15]
 *     [--dataset ml-latest-small --batch 16]   (the small-batch step of LlamaRec's preset instead of ML-1M's)
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/data/index.ts";
import type { Graph, NodeProfile } from "../../src/engine/index.ts";
import { fixedTrainStep, ml1mStepConfig, STEP_DATASETS, stepDataset } from "./fixed-step.ts";

const { values: args } = parseArgs({
  options: {
    models: { type: "string", default: "sasrec,lrurec" },
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "2" },
    top: { type: "string", default: "15" },
    dataset: { type: "string", default: "ml-1m" },
    batch: { type: "string", default: "128" },
  },
});
const dataset = stepDataset(args.dataset!);
const threads = Number(args.threads);
const reps = Number(args.reps);
const top = Number(args.top);
const ds = await loadDataset(dataset, { protocol: STEP_DATASETS[dataset] });

for (const name of args.models!.split(",")) {
  const { step, batch, dispose } = fixedTrainStep(ds, name, { preset: dataset, config: { ...ml1mStepConfig(name), batchSize: Number(args.batch) }, threads });
  step.run(batch); // compiles the graph for this batch's row count
  // The trainer keeps its graphs and gathered rows private; a benchmark may look inside.
  const inner = step as unknown as { graphs: Map<number, Graph>; rows: Int32Array; labels: Int32Array };
  const M = step.lastRows;
  const graph = inner.graphs.get(M)!;
  const inputs = { ids: batch.ids, mask: batch.mask, positions: batch.positions, rows: inner.rows.subarray(0, M), labels: inner.labels.subarray(0, M) };
  const byOp = new Map<string, { cpu: number; n: number }>();
  let nodes: NodeProfile[] = [];
  let runCpu = Infinity, runWall = Infinity;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    graph.run(inputs);
    runWall = Math.min(runWall, performance.now() - t0);
    const dc = process.cpuUsage(c0);
    runCpu = Math.min(runCpu, (dc.user + dc.system) / 1000);
    const p = graph.profile(inputs).nodes;
    if (r === 0) nodes = p;
    else p.forEach((q, i) => (nodes[i].cpuMs = Math.min(nodes[i].cpuMs, q.cpuMs)));
  }
  for (const n of nodes) {
    const e = byOp.get(n.op) ?? { cpu: 0, n: 0 };
    e.cpu += n.cpuMs;
    e.n++;
    byOp.set(n.op, e);
  }
  const total = nodes.reduce((s, n) => s + n.cpuMs, 0);
  console.log(`\n${name}: M=${M} gathered rows, ${graph.nodeCount} nodes, ${threads} thread(s); run(): cpu ${runCpu.toFixed(0)} ms, wall ${runWall.toFixed(0)} ms; sum of node cpu ${total.toFixed(0)} ms (outside compute ~${(runCpu - total).toFixed(0)} ms)`);
  for (const [op, e] of [...byOp].sort((a, b) => b[1].cpu - a[1].cpu)) {
    if (e.cpu < total * 0.005) continue;
    console.log(`  ${op.padEnd(16)} ${e.cpu.toFixed(0).padStart(7)} ms  ${((100 * e.cpu) / total).toFixed(1).padStart(5)}%  (${e.n} nodes)`);
  }
  console.log(`  top nodes:`);
  for (const n of [...nodes].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, top)) {
    console.log(`    #${String(n.index).padStart(4)} ${n.op.padEnd(16)} ne [${n.ne.join(",")}] ${n.cpuMs.toFixed(1)} ms`);
  }
  dispose();
}
