/**
 * Per-op profile of the trainer's real training step (the graph bench/throughput.ts times) on ML-1M:
 * B 128 × L 200, dropout 0.2, full-softmax CE over all items at every labelled position, AdamW + clip.
 * Runs `Graph.profile` (node by node, timed) and prints CPU ms per ggml op (summed over nodes), the biggest nodes,
 * and the time spent outside ggml compute (inputs, dropout masks).
 *   npx tsx bench/engine/step-profile.ts [--models sasrec,lrurec] [--threads 1] [--reps 2] [--top 15]
 *     [--dataset ml-latest-small --batch 16]   (the small-batch step of LlamaRec's preset instead of ML-1M's)
 *     [--negatives 512]   (the sampled softmax's step, 512 shared popularity-drawn negatives, instead of the full one)
 *     [--no-pack]   (LRURec: the padded batch as it is, instead of packed rows)
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/data/index.ts";
import type { Graph } from "../../src/engine/index.ts";
import { bestProfile, printOpTable, printTopNodes, totalCpuMs } from "../lib/node-profile.ts";
import { Rng } from "../../src/rng.ts";
import { fixedTrainStep, ml1mStepConfig, STEP_DATASETS, stepDataset } from "./fixed-step.ts";

const { values: args } = parseArgs({
  options: {
    models: { type: "string", default: "sasrec,lrurec" },
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "2" },
    top: { type: "string", default: "15" },
    dataset: { type: "string", default: "ml-1m" },
    batch: { type: "string", default: "128" },
    negatives: { type: "string" },
    "no-pack": { type: "boolean", default: false },
  },
});
const dataset = stepDataset(args.dataset!);
const threads = Number(args.threads);
const reps = Number(args.reps);
const top = Number(args.top);
const ds = await loadDataset(dataset, { protocol: STEP_DATASETS[dataset] });
const sampled = args.negatives ? { softmax: "sampled", negatives: Number(args.negatives) } : {};

for (const name of args.models!.split(",")) {
  const { step, batch, dispose } = fixedTrainStep(ds, name, { preset: dataset, config: { ...ml1mStepConfig(name), batchSize: Number(args.batch), ...sampled }, threads, pack: !args["no-pack"] });
  step.run(batch, new Rng(7)); // compiles the graph for this batch's row count
  // The trainer keeps its graphs and gathered rows private; a benchmark may look inside.
  const inner = step as unknown as {
    graphs: Map<string, Graph>;
    rows: Int32Array;
    labels: Int32Array;
    packer?: { rowLength: number; out: { ids: Int32Array; mask: Float32Array; positions: Int32Array; segments: Float32Array } };
    sampled?: { negatives: Int32Array; correction: Float32Array; targets: Int32Array };
  };
  const M = step.lastRows;
  const R = step.lastEncoderRows;
  const graph = inner.graphs.get(`${R}x${M}`)!;
  const p = inner.packer;
  const n = p ? R * p.rowLength : batch.ids.length;
  const x = p?.out ?? batch;
  const inputs: Record<string, Int32Array | Float32Array> = { ids: x.ids.subarray(0, n), mask: x.mask.subarray(0, n), positions: x.positions.subarray(0, n), rows: inner.rows.subarray(0, M), labels: inner.labels.subarray(0, M) };
  if (p) inputs.segments = p.out.segments.subarray(0, n);
  const sp = inner.sampled;
  if (sp) Object.assign(inputs, { negatives: sp.negatives, correction: sp.correction.subarray(0, M * (sp.negatives.length + 1)), targets: sp.targets.subarray(0, M) });
  let runCpu = Infinity, runWall = Infinity;
  const nodes = bestProfile(graph, inputs, reps, () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    graph.run(inputs);
    runWall = Math.min(runWall, performance.now() - t0);
    const dc = process.cpuUsage(c0);
    runCpu = Math.min(runCpu, (dc.user + dc.system) / 1000);
  });
  const total = totalCpuMs(nodes);
  console.log(`\n${name}: ${R} encoder rows${p ? ` (packed, ${p.rowLength} wide)` : ""}, M=${M} gathered rows, ${graph.nodeCount} nodes, ${threads} thread(s); run(): cpu ${runCpu.toFixed(0)} ms, wall ${runWall.toFixed(0)} ms; sum of node cpu ${total.toFixed(0)} ms (outside compute ~${(runCpu - total).toFixed(0)} ms)`);
  printOpTable(nodes, total, { minShare: 0.005, digits: 0, width: 7 });
  console.log(`  top nodes:`);
  printTopNodes(nodes, top, 1);
  dispose();
}
