/**
 * Packed vs padded training batches (src/models/neural/packing.ts): LRURec's trainer step on the same random batches
 * of a dataset's preset, the encoder over the padded windows (`pack: false`) and over packed rows, alternated twice
 * (padded, packed, padded, packed) so that drift shows. Graphs are compiled before timing (TrainStep.prepare).
 * Metrics: step_ms (mean over the steps), steps_per_s, encoder_rows (mean per step, of the batch size B).
 *   npx tsx bench/engine/packed-step.ts [--datasets beauty,ml-1m] [--steps 40] [--threads 2]
 * Writes bench/results/packed-step.json.
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
  },
});
const steps = Number(args.steps);
const threads = Number(args.threads);
const def = getNeuralModel("lrurec");
const rows: BenchRow[] = [];
const inputs: string[] = [];
for (const name of args.datasets!.split(",")) {
  const ds = await loadDataset(name);
  const { config } = resolveConfig(def, { preset: name, config: { seed: 42 } });
  const B = config.batchSize;
  const runs: Record<string, { ms: number[]; rows: number }> = { padded: { ms: [], rows: 0 }, packed: { ms: [], rows: 0 } };
  for (const pack of [false, true, false, true]) {
    const { model: rec, step, dispose } = fixedTrainStep(ds, "lrurec", { preset: name, config: { seed: 42 }, threads, pack });
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
      const t0 = performance.now();
      for (const b of batches) {
        step.run(b);
        encoderRows += step.lastEncoderRows;
      }
      const ms = (performance.now() - t0) / steps;
      const r = runs[pack ? "packed" : "padded"];
      r.ms.push(ms);
      r.rows = encoderRows / steps;
      console.log(`${name} ${pack ? "packed" : "padded"}: ${ms.toFixed(1)} ms/step, ${(encoderRows / steps).toFixed(1)} encoder rows of ${B}`);
    } finally {
      dispose();
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  for (const kind of ["padded", "packed"] as const) {
    const r = runs[kind];
    const ms = mean(r.ms);
    rows.push({
      method: "lrurec",
      dataset: name,
      protocol: "train-step",
      variant: { packed: kind === "packed", threads },
      ...(kind === "packed" ? { headline: true } : {}),
      metrics: { step_ms: ms, steps_per_s: 1000 / ms, encoder_rows: r.rows, batch: B, ...(kind === "packed" ? { speedup: mean(runs.padded.ms) / ms } : {}) },
      notes: `trainer step (full softmax, preset ${name}: batch ${B}, maxLen ${config.maxLen}) on ${steps} random batches, ${threads} threads; mean ms per step over two passes (${r.ms.map((x) => x.toFixed(1)).join(", ")}), graphs compiled before timing${kind === "packed" ? "; speedup = padded step_ms / packed step_ms" : ""}`,
    });
  }
  const root = sharedDir();
  const file = root && { "ml-1m": join(root, "data", "ml-1m", "lrurec", "dataset.json"), beauty: join(root, "data", "beauty", "llamarec", "dataset.json") }[name];
  if (file) inputs.push(file);
}
writeBenchResult({ benchmark: "packed-step", command: `npx tsx bench/engine/packed-step.ts --datasets ${args.datasets} --steps ${steps} --threads ${threads}`, inputs, rows });
