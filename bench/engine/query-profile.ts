/**
 * Per-op profile of a trained retriever's query forward (what `reclm serve` runs per micro-batch): the eval graph of
 * `rows` histories, node by node (Graph.profile), CPU ms per ggml op and the biggest nodes; plus scoreAll's wall time
 * per batch size, the numbers src/serve/batcher.ts's DEFAULT_MAX_BATCH rests on, through the model's whole window and
 * through the window scoreAll picks itself (shorter for short histories when the model is window-invariant).
 * Histories: the first users' last --history-len training items (bench/serve-load.ts sends 30).
 * Then single forwards with --gap-ms of idle between them, as a server sees them: with 2+ threads ggml starts its
 * workers per forward, and on a 2-core VM waking one on an idle core costs more than the forward itself.
 *   npx tsx bench/engine/query-profile.ts --run /work/runs/serve-lrurec [--dataset ml-latest-small] [--threads 1]
 *     [--rows 1,2,4,8] [--reps 20] [--top 12] [--history-len 30] [--gap-ms 20]
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/data/index.ts";
import type { Graph } from "../../src/engine/index.ts";
import { loadTrained } from "../../src/models/registry.ts";
import { bestProfile, printOpTable, printTopNodes, totalCpuMs } from "../lib/node-profile.ts";

const { values: args } = parseArgs({
  options: {
    run: { type: "string" },
    dataset: { type: "string", default: "ml-latest-small" },
    threads: { type: "string", default: "1" },
    rows: { type: "string", default: "1,2,4,8" },
    reps: { type: "string", default: "20" },
    top: { type: "string", default: "12" },
    profile: { type: "string", default: "4" },
    "history-len": { type: "string", default: "30" },
    "gap-ms": { type: "string", default: "20" },
  },
});
if (!args.run) throw new Error("--run <trained run dir> is required");
const ds = await loadDataset(args.dataset!);
const model = loadTrained(args.run, { threads: Number(args.threads) });
const H = Number(args["history-len"]);
const histories = ds.train.slice(0, 64).map((h) => h.subarray(Math.max(0, h.length - H)));
const L = model.ctx.windowLen;
for (const rows of args.rows!.split(",").map(Number)) {
  const hs = histories.slice(0, rows);
  const line: string[] = [];
  for (const [label, window] of [["whole window", L], ["own window", undefined]] as const) {
    model.scoreAllSync(hs, { window });
    const times: number[] = [];
    for (let r = 0; r < Number(args.reps); r++) {
      const t0 = performance.now();
      model.scoreAllSync(hs, { window });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    line.push(`${label}: median ${times[times.length >> 1].toFixed(2)} ms (min ${times[0].toFixed(2)})`);
  }
  console.log(`rows ${rows}, histories of ${H}: ${line.join("; ")}`);
}
{
  const gap = Number(args["gap-ms"]);
  const one = histories.slice(0, 1);
  model.scoreAllSync(one);
  const times: number[] = [];
  for (let r = 0; r < 200; r++) {
    await new Promise((res) => setTimeout(res, gap));
    const t0 = performance.now();
    model.scoreAllSync(one);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(`1 history after ${gap} ms idle, ${args.threads} thread(s): p50 ${times[100].toFixed(2)} ms, p99 ${times[198].toFixed(2)} ms`);
}
// The eval graphs are private to the recommender; a benchmark may look inside.
const inner = model as unknown as { evalGraphs: Map<string, { graph: Graph; batch: { ids: Int32Array; mask: Float32Array; positions: Int32Array } }> };
const P = Number(args.profile);
const shape = `${P}x${L}`;
model.scoreAllSync(histories.slice(0, P), { window: L });
const { graph, batch } = inner.evalGraphs.get(shape)!;
const nodes = bestProfile(graph, { ids: batch.ids, mask: batch.mask, positions: batch.positions }, 3);
const total = totalCpuMs(nodes);
console.log(`\nshape ${shape} (whole window): ${graph.nodeCount} nodes, sum of node cpu ${total.toFixed(2)} ms`);
printOpTable(nodes, total, { minShare: 0.01, digits: 2, width: 8 });
printTopNodes(nodes, Number(args.top), 2);
model.dispose();
