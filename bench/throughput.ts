/**
 * Training throughput (sequences/s) of SASRec and LRURec on ML-1M, reclm's engine vs the PyTorch reference
 * (bench/torch/throughput.py), in ONE run on the same machine, per the contract in docs/model-recipes.md §8:
 * batch 128 × max_len 200 windows (recipes §0), dropout 0.2 active, full-softmax CE over N+1 columns at every labelled
 * position, backward, global clip 5.0, AdamW lr 1e-3 wd 0.01 eps 1e-9; batch building not timed; median step over
 * the timed steps after warm-up; seq_per_s = batch / median step seconds; same thread count on both sides; the same
 * batches on both sides (reclm builds them, PyTorch reads them from a file; labelled rows per step checked equal).
 * reclm compiles its train graphs for the batches' row counts before timing (TrainStep.prepare), as a training run
 * amortizes them over thousands of steps; PyTorch has no compile step.
 * reclm's step is the trainer's own (src/models/neural/train-step.ts). For a model that packs its batches (LRURec:
 * the examples end to end in fewer rows, src/models/neural/packing.ts) reclm runs twice: packed, as training does
 * (the headline), and padded (`packed: false`), the same rows PyTorch computes.
 *
 *   npx tsx bench/throughput.ts [--models sasrec,lrurec] [--steps 10] [--warmup 2] [--threads 2 | --threads 1,2] [--no-torch]
 *     [--row-buckets 16]   (TrainStep's rounding of the labelled-row count; 4 = the rounding before the shared buffer)
 *     [--dataset ml-latest-small --batch 16]   (the small-batch setting of LlamaRec's ML-100k preset instead of ML-1M's
 *     batch 128; PyTorch gets a dataset.json of reclm's split written beside the batches)
 * Several thread counts give one reclm + one PyTorch row per (model, threads): on a shared machine ggml's spinning
 * thread barriers lose much more than OpenMP when a core is taken away, so 1 thread can beat 2 there.
 * Writes bench/results/throughput.json (ML-1M, batch 128) or throughput-<dataset>-b<batch>.json.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { AdamW, Engine } from "../src/engine/index.ts";
import { resolveConfig } from "../src/models/neural/config.ts";
import { allocBatch, buildExamples, fillTrainBatch, type BatchArrays } from "../src/models/neural/examples.ts";
import { NeuralRecommender } from "../src/models/neural/recommender.ts";
import { ROW_BUCKETS, TrainStep } from "../src/models/neural/train-step.ts";
import { getNeuralModel } from "../src/models/registry.ts";
import { PACKAGE_ROOT, sharedDir } from "../src/paths.ts";
import { Rng } from "../src/rng.ts";
import { STEP_DATASETS, stepDataset } from "./engine/fixed-step.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    models: { type: "string", default: "sasrec,lrurec" },
    steps: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    threads: { type: "string", default: "2" },
    "no-torch": { type: "boolean", default: false },
    "row-buckets": { type: "string", default: String(ROW_BUCKETS) },
    dataset: { type: "string", default: "ml-1m" },
    batch: { type: "string", default: "128" },
  },
});
const datasetName = stepDataset(args.dataset!);
const models = args.models!.split(",");
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const threadCounts = args.threads!.split(",").map(Number);
const BATCH = Number(args.batch);
if (!Number.isInteger(BATCH) || BATCH < 1) throw new Error(`--batch must be a positive integer, got ${args.batch}`);
const MAX_LEN = 200;

const shared = sharedDir();
if (!shared) throw new Error("bench/throughput.ts needs ../shared (its datasets); it is absent on this machine");
const ds = await loadDataset(datasetName, { protocol: STEP_DATASETS[datasetName] });
const inputs = datasetName === "ml-1m" ? [join(shared, "data", "ml-1m", "lrurec", "dataset.json")] : [join(shared, "data", "ml-latest-small", "ratings.csv"), join(shared, "data", "ml-latest-small", "movies.csv")];
// PyTorch's throughput.py reads the item count (and, without --batches, the windows) from an LRURec-style dataset.json:
// ML-1M has LRURec's own; for other datasets reclm writes its split in that layout.
const workDir = mkdtempSync(join(tmpdir(), "reclm-throughput-"));
const datasetJson = datasetName === "ml-1m" ? inputs[0] : join(workDir, "dataset.json");
if (datasetName !== "ml-1m") {
  const byUser = (split: readonly Int32Array[]) => Object.fromEntries(split.map((seq, u) => [String(u + 1), Array.from(seq)]));
  const smap = Object.fromEntries(Array.from({ length: ds.catalog.size }, (_, i) => [String(i + 1), i + 1]));
  const single = (split: Int32Array) => Object.fromEntries(Array.from(split, (item, u) => [String(u + 1), [item]]));
  writeFileSync(datasetJson, JSON.stringify({ train: byUser(ds.train), val: single(ds.val), test: single(ds.test), smap }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Side {
  median_step_ms: number;
  min_step_ms: number;
  seq_per_s: number;
  final_loss: number;
}

/**
 * The batches of one model's comparison, built once by reclm's own example code and handed to both sides: reclm trains
 * on them directly, PyTorch reads their last MAX_LEN columns (tokens, labels) from a raw int32 file, so the two steps
 * see the same sequences and the same labelled rows (checked per step after both ran).
 */
interface SharedBatches {
  batches: BatchArrays[];
  windows: number;
  /** Labelled (non-zero label) rows per step. */
  labelled: number[];
  /** [steps, 2, BATCH, MAX_LEN] int32 for bench/torch/throughput.py --batches. */
  file: string;
}

function buildBatches(name: string): SharedBatches {
  const def = getNeuralModel(name);
  const { config } = resolveConfig(def, { preset: datasetName, config: { batchSize: BATCH, maxLen: MAX_LEN } });
  const objective = def.objective(config);
  const windowLen = def.windowLength(config);
  const ex = buildExamples(ds, objective, config.maxLen);
  const order = new Rng(42).shuffle(Int32Array.from({ length: ex.length }, (_, i) => i)) as Int32Array;
  const total = warmup + steps;
  const raw = new Int32Array(total * 2 * BATCH * MAX_LEN);
  const labelled: number[] = [];
  const batches = Array.from({ length: total }, (_, s) => {
    const b = allocBatch(BATCH, windowLen, objective);
    const idx = Int32Array.from({ length: BATCH }, (_, i) => order[(s * BATCH + i) % ex.length]);
    fillTrainBatch(b, ds, ex, idx, objective, config.maxLen, windowLen, new Rng(s));
    let n = 0;
    for (let r = 0; r < BATCH; r++) {
      for (let j = 0; j < windowLen; j++) {
        const id = b.ids[r * windowLen + j];
        const label = b.labels[r * windowLen + j];
        if (label !== 0) n++;
        const col = j - (windowLen - MAX_LEN); // models that pad to 2^k (LRURec: 256) only add leading zeros
        if (col < 0) {
          if (id !== 0 || label !== 0) throw new Error(`${name}: window padding column ${j} is not empty`);
          continue;
        }
        raw[((s * 2 + 0) * BATCH + r) * MAX_LEN + col] = id;
        raw[((s * 2 + 1) * BATCH + r) * MAX_LEN + col] = label;
      }
    }
    labelled.push(n);
    return b;
  });
  const file = join(workDir, `${name}-batches.i32`);
  writeFileSync(file, new Uint8Array(raw.buffer));
  return { batches, windows: ex.length, labelled, file };
}

function reclmSide(name: string, threads: number, shared: SharedBatches, pack: boolean): Side & { windows: number; gatheredRows: number; encoderRows: number } {
  const def = getNeuralModel(name);
  const { config } = resolveConfig(def, {
    preset: datasetName,
    config: { batchSize: BATCH, maxLen: MAX_LEN, dropout: 0.2, ...(name === "sasrec" ? { attnDropout: 0.2 } : { lruDropout: 0.2 }), seed: 42 },
  });
  const engine = Engine.create({ threads });
  const model = new NeuralRecommender(def, config, ds.catalog.size, { engine });
  const opt = new AdamW(model.store, { lr: 1e-3, eps: 1e-9, weightDecay: 0.01, clipNorm: 5 });
  const step = new TrainStep(def, model, opt, new Rng(43), { rowBuckets: Number(args["row-buckets"]), pack });
  try {
    const { batches } = shared;
    const c0 = performance.now();
    const graphs = step.prepare(batches);
    process.stderr.write(`reclm ${name} (${threads} threads): ${graphs} train graphs compiled before timing in ${(performance.now() - c0).toFixed(0)} ms\n`);
    const times: number[] = [];
    let loss = NaN;
    let rows = 0;
    let encoderRows = 0;
    batches.forEach((b, s) => {
      const t0 = performance.now();
      loss = step.run(b);
      const ms = performance.now() - t0;
      rows = step.lastRows;
      encoderRows = step.lastEncoderRows;
      if (step.lastLabelled !== shared.labelled[s]) throw new Error(`${name}: step ${s} gathered ${step.lastLabelled} labelled rows, the batch has ${shared.labelled[s]}`);
      if (!Number.isFinite(loss)) throw new Error(`${name}: loss ${loss} at step ${s}`);
      if (s >= warmup) times.push(ms);
      process.stderr.write(`reclm ${name} (${threads} threads${pack ? "" : ", padded"}) step ${s}: ${ms.toFixed(0)} ms loss ${loss.toFixed(4)} (${step.lastEncoderRows} encoder rows; ${step.lastLabelled} labelled rows, scored as ${rows})\n`);
    });
    const med = median(times);
    return {
      median_step_ms: med,
      min_step_ms: Math.min(...times),
      seq_per_s: BATCH / (med / 1000),
      final_loss: loss,
      windows: shared.windows,
      gatheredRows: rows,
      encoderRows,
    };
  } finally {
    step.dispose();
    opt.dispose();
    model.dispose();
    engine.dispose();
  }
}

function torchSide(name: string, threads: number, shared: SharedBatches): Side & { torch_version: string } {
  const out = execFileSync(
    "/usr/bin/python3",
    ["-W", "ignore", "throughput.py", "--model", name, "--dataset", datasetJson, "--batch", String(BATCH), "--max-len", String(MAX_LEN),
      "--threads", String(threads), "--steps", String(steps), "--warmup", String(warmup), "--gather", "--batches", shared.file],
    { cwd: join(PACKAGE_ROOT, "bench", "torch"), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 },
  );
  const line = out.trim().split("\n").pop()!;
  const r = JSON.parse(line) as Side & { torch_version: string; labelled_rows: number[] };
  if (JSON.stringify(r.labelled_rows) !== JSON.stringify(shared.labelled)) {
    throw new Error(`${name}: PyTorch saw labelled rows ${JSON.stringify(r.labelled_rows)}, reclm ${JSON.stringify(shared.labelled)}`);
  }
  process.stderr.write(`pytorch ${name} (${threads} threads): ${line}\n`);
  return r;
}

// The README quotes the run on every core given.
const headlineThreads = Math.max(...threadCounts);
const rows: BenchRow[] = [];
for (const name of models) {
  const shared = buildBatches(name);
  try {
    const packable = getNeuralModel(name).packedRowLength !== undefined;
    for (const threads of threadCounts) {
      const sides = (packable ? [true, false] : [true]).map((pack) => ({ pack, ours: reclmSide(name, threads, shared, pack) }));
      const torch = args["no-torch"] ? undefined : torchSide(name, threads, shared);
      for (const { pack, ours } of sides) {
        const speedup = torch ? ours.seq_per_s / torch.seq_per_s : undefined;
        rows.push({
          method: name,
          dataset: datasetName,
          protocol: "throughput",
          metrics: {
            seq_per_s: ours.seq_per_s,
            median_step_ms: ours.median_step_ms,
            min_step_ms: ours.min_step_ms,
            final_loss: ours.final_loss,
            threads,
            ...(speedup !== undefined ? { speedup } : {}),
          },
          variant: packable ? { threads, packed: pack } : { threads },
          headline: threads === headlineThreads && pack,
          notes:
            `reclm engine (ggml CPU, ${threads} threads), trainer step; batch ${BATCH} x max_len ${MAX_LEN}, ${ours.windows} training windows; ` +
            (packable ? (pack ? `packed: the batch's examples end to end in ${ours.encoderRows} encoder rows in the last step (as training runs); ` : `padded: ${BATCH} encoder rows, one window each (the rows PyTorch computes); `) : "") +
            `${steps} timed steps after ${warmup} warm-up; loss over gathered labelled rows (${ours.gatheredRows} in the last step); the same batches as the pytorch row (labelled rows per step checked equal); ` +
            `speedup = reclm seq_per_s / pytorch seq_per_s at the same thread count, measured in this same run`,
        });
      }
      if (torch) {
        rows.push({
          method: `${name}-pytorch`,
          dataset: datasetName,
          protocol: "throughput",
          metrics: { seq_per_s: torch.seq_per_s, median_step_ms: torch.median_step_ms, min_step_ms: torch.min_step_ms, final_loss: torch.final_loss, threads },
          variant: { threads },
          headline: threads === headlineThreads,
          notes: `bench/torch/throughput.py --gather --batches (reclm's batches, read from a file; scores only the labelled rows, the same work as reclm's step), torch ${torch.torch_version}, ${threads} threads, same steps/warm-up, run right after the reclm row`,
        });
      }
    }
  } finally {
    rmSync(shared.file, { force: true });
  }
}
rmSync(workDir, { recursive: true, force: true });

const argv = process.argv.slice(2).join(" ");
// ML-1M at batch 128 is the issue's comparison (throughput.json); other settings get their own file beside it.
const benchmark = datasetName === "ml-1m" && BATCH === 128 ? "throughput" : `throughput-${datasetName}-b${BATCH}`;
writeBenchResult({ benchmark, command: `npx tsx bench/throughput.ts${argv ? ` ${argv}` : ""}`, inputs, rows });
