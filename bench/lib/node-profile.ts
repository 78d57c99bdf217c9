/**
 * What the profile scripts print (bench/engine/step-profile.ts, llm-step-profile.ts, query-profile.ts): Graph.profile's
 * nodes, the best of several runs, CPU ms summed per ggml op, and the slowest nodes.
 */
import type { Graph, NodeProfile } from "../../src/engine/index.ts";

/**
 * `reps` node-by-node profiles of `graph` on `inputs`; each node keeps its lowest CPU time (the least disturbed run).
 * `beforeEach` runs before every profile (a timed plain run, say).
 */
export function bestProfile(graph: Graph, inputs: Parameters<Graph["profile"]>[0], reps: number, beforeEach?: () => void): NodeProfile[] {
  let nodes: NodeProfile[] = [];
  for (let r = 0; r < reps; r++) {
    beforeEach?.();
    const p = graph.profile(inputs).nodes;
    if (r === 0) nodes = p;
    else p.forEach((q, i) => (nodes[i].cpuMs = Math.min(nodes[i].cpuMs, q.cpuMs)));
  }
  return nodes;
}

/** Sum of the nodes' CPU ms. */
export function totalCpuMs(nodes: readonly NodeProfile[]): number {
  return nodes.reduce((s, n) => s + n.cpuMs, 0);
}

/** One line per ggml op: CPU ms summed over its nodes and its share of `total`, biggest first, under `minShare` left out. */
export function printOpTable(nodes: readonly NodeProfile[], total: number, options: { minShare: number; digits: number; width: number }): void {
  const byOp = new Map<string, { cpu: number; n: number }>();
  for (const n of nodes) {
    const e = byOp.get(n.op) ?? { cpu: 0, n: 0 };
    e.cpu += n.cpuMs;
    e.n++;
    byOp.set(n.op, e);
  }
  for (const [op, e] of [...byOp].sort((a, b) => b[1].cpu - a[1].cpu)) {
    if (e.cpu < total * options.minShare) continue;
    console.log(`  ${op.padEnd(16)} ${e.cpu.toFixed(options.digits).padStart(options.width)} ms  ${((100 * e.cpu) / total).toFixed(1).padStart(5)}%  (${e.n} nodes)`);
  }
}

/** The `top` slowest nodes, one line each. */
export function printTopNodes(nodes: readonly NodeProfile[], top: number, digits: number): void {
  for (const n of [...nodes].sort((a, b) => b.cpuMs - a.cpuMs).slice(0, top)) {
    console.log(`    #${String(n.index).padStart(4)} ${n.op.padEnd(16)} ne [${n.ne.join(",")}] ${n.cpuMs.toFixed(digits)} ms`);
  }
}
