/**
 * Two ways of running LRURec's trainer step, side by side on the same random batches of a dataset's preset, alternated
 * twice (A, B, A, B) so that drift shows. Graphs are compiled before timing (TrainStep.prepare).
 *   --compare pack (default): padded windows (`pack: false`) vs packed rows (src/models/neural/packing.ts);
 *     writes bench/results/packed-step.json.
 *   --compare scan: the authors' tree scan (`scan: "tree"`) vs reclm's chunked scan (`scan: "chunked"`, the default),
 *     both on packed rows; writes bench/results/lru-scan-step.json.
 * Metrics: step_ms (mean over the steps), steps_per_s, encoder_rows (mean per step, of the batch size B), first_loss
 * (the first batch's loss: the two ways compute the same function), speedup on the second way's row (A ms / B ms).
 *   npx tsx bench/engine/packed-step.ts [--compare pack|scan] [--datasets beauty,ml-1m] [--steps 40] [--threads 2]
 *     [--negatives 512]   (both ways with the sampled softmax; the file gets a -sampled suffix)
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadDataset } from "../../src/data/index.ts";
import { resolveConfig } from "../../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch } from "../../src/models/neural/examples.ts";
import { getNeuralModel } from "../../src/models/registry.ts";
import { sharedDir } from "../../src/paths.ts";
import { Rng } from "../../src/rng.ts";
import { writeBenchResult, type BenchRow } from "../lib/results.ts";
import { fixedTrainStep } from "./fixed-step.ts";

const { values: args } = parseArgs({
  options: {
    datasets: { type: "string", default: "beauty,ml-1m" },
    steps: { type: "string", default: "40" },
    threads: { type: "string", default: "2" },
    compare: { type: "string", default: "pack" },
    negatives: { type: "string" },
  },
});
// --negatives N: both ways train with the sampled softmax (N shared popularity-drawn negatives) instead of the full one.
const softmax: Record<string, unknown> = args.negatives ? { softmax: "sampled", negatives: Number(args.negatives) } : {};
interface Way {
  label: string;
  pack: boolean;
  config: Record<string, unknown>;
  variant: Record<string, unknown>;
}
// `headline`: the second way's rows are the figures the README quotes for the step (packed-step.json holds them).
const COMPARISONS: Record<string, { benchmark: string; headline: boolean; ways: [Way, Way] }> = {
  pack: {
    benchmark: "packed-step",
    headline: true,
    ways: [
      { label: "padded", pack: false, config: {}, variant: { packed: false } },
      { label: "packed", pack: true, config: {}, variant: { packed: true } },
    ],
  },
  scan: {
    benchmark: "lru-scan-step",
    headline: false,
    ways: [
      { label: "tree", pack: true, config: { scan: "tree" }, variant: { scan: "tree" } },
      { label: "chunked", pack: true, config: { scan: "chunked" }, variant: { scan: "chunked" } },
    ],
  },
};
const comparison = COMPARISONS[args.compare!];
if (!comparison) throw new Error(`--compare must be one of ${Object.keys(COMPARISONS).join(", ")}`);
const [wayA, wayB] = comparison.ways;
const steps = Number(args.steps);
const threads = Number(args.threads);
const def = getNeuralModel("lrurec");
const rows: BenchRow[] = [];
const inputs: string[] = [];
for (const name of args.datasets!.split(",")) {
  const ds = await loadDataset(name);
  const { config } = resolveConfig(def, { preset: name, config: { seed: 42 } });
  const B = config.batchSize;
  const runs = new Map<Way, { ms: number[]; rows: number; firstLoss: number }>(comparison.ways.map((w) => [w, { ms: [], rows: 0, firstLoss: NaN }]));
  for (const way of [wayA, wayB, wayA, wayB]) {
    const { model: rec, step, dispose } = fixedTrainStep(ds, "lrurec", { preset: name, config: { seed: 42, ...softmax, ...way.config }, threads, pack: way.pack });
    try {
      const ex = buildExamples(ds, rec.objective, config.maxLen);
      const order = new Rng(1).shuffle(Int32Array.from({ length: ex.length }, (_, i) => i)) as Int32Array;
      const batches = Array.from({ length: steps }, (_, s) => {
        const b = allocBatch(B, rec.ctx.windowLen, rec.objective);
        fillTrainBatch(b, ds, ex, order.subarray((s * B) % ex.length, ((s * B) % ex.length) + B), rec.objective, config.maxLen, rec.ctx.windowLen, new Rng(s));
        return b;
      });
      step.prepare(batches);
      let encoderRows = 0;
      let firstLoss = NaN;
      const t0 = performance.now();
      // The sampled softmax's negatives: the same draws on both ways (one stream per pass, same seed).
      const negativeRng = new Rng(99);
      for (const b of batches) {
        const loss = step.run(b, negativeRng);
        if (Number.isNaN(firstLoss)) firstLoss = loss;
        encoderRows += step.lastEncoderRows;
      }
      const ms = (performance.now() - t0) / steps;
      const r = runs.get(way)!;
      r.ms.push(ms);
      r.rows = encoderRows / steps;
      r.firstLoss = firstLoss;
      console.log(`${name} ${way.label}: ${ms.toFixed(1)} ms/step, ${(encoderRows / steps).toFixed(1)} encoder rows of ${B}, first loss ${firstLoss.toFixed(6)}`);
    } finally {
      dispose();
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const way of comparison.ways) {
    const r = runs.get(way)!;
    const ms = mean(r.ms);
    const second = way === wayB;
    rows.push({
      method: "lrurec",
      dataset: name,
      protocol: "train-step",
      variant: { ...way.variant, ...softmax, threads },
      ...(second && comparison.headline && !args.negatives ? { headline: true } : {}),
      metrics: { step_ms: ms, steps_per_s: 1000 / ms, encoder_rows: r.rows, batch: B, first_loss: r.firstLoss, ...(second ? { speedup: mean(runs.get(wayA)!.ms) / ms } : {}) },
      notes: `trainer step (${args.negatives ? `sampled softmax, ${args.negatives} negatives` : "full softmax"}, preset ${name}: batch ${B}, maxLen ${config.maxLen}) on ${steps} random batches, ${threads} threads; mean ms per step over two passes (${r.ms.map((x) => x.toFixed(1)).join(", ")}), graphs compiled before timing${second ? `; speedup = ${wayA.label} step_ms / ${wayB.label} step_ms` : ""}`,
    });
  }
  const root = sharedDir();
  const file = root && { "ml-1m": join(root, "data", "ml-1m", "lrurec", "dataset.json"), beauty: join(root, "data", "beauty", "llamarec", "dataset.json") }[name];
  if (file) inputs.push(file);
}
const compareFlag = (args.compare === "pack" ? "" : ` --compare ${args.compare}`) + (args.negatives ? ` --negatives ${args.negatives}` : "");
writeBenchResult({ benchmark: comparison.benchmark + (args.negatives ? "-sampled" : ""), command: `npx tsx bench/engine/packed-step.ts${compareFlag} --datasets ${args.datasets} --steps ${steps} --threads ${threads}`, inputs, rows });
