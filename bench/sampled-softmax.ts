/**
 * Sampled softmax next to the full softmax (issue 25): LRURec on ML-1M (LRURec's published split), preset ml-1m,
 * the same seed and the same capped number of optimizer steps for every variant; test N@10 / R@10 (full ranking,
 * history masked as the preset masks it) and training throughput (sequences per second over the optimizer steps).
 * The full run's dir is kept for bench/ann.ts (its ml-1m row indexes that model's items).
 *
 *   nice -n 19 npx tsx bench/sampled-softmax.ts --steps 300 --negatives 512,1024,uniform:1024 --threads 2
 * --negatives lists the sampled variants: "N" draws N negatives from the popularity proposal (the default sampler),
 * "uniform:N" from the uniform one.
 *     [--catalogs 10000,30000 --catalog-steps 10]
 * --catalogs adds throughput rows on larger catalogs, for "when to switch": seeded synthetic logs
 * (src/data/synthetic-log.ts; ML-1M's 6,040 users, 20-200 interactions each, Zipf items over V ids, protocol none)
 * trained with ML-1M's preset, full softmax vs each sampled variant, `--catalog-steps` steps each (throughput only:
 * random logs have nothing to learn).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { sharedDir } from "../src/paths.ts";
import { trainModel } from "../src/models/neural/trainer.ts";
import { getNeuralModel } from "../src/models/registry.ts";
import { writeSyntheticLog } from "../src/data/synthetic-log.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string", default: "300" },
    negatives: { type: "string", default: "512,1024" },
    threads: { type: "string", default: "2" },
    seed: { type: "string", default: "42" },
    out: { type: "string", default: "/tmp/reclm-bench/sampled-softmax" },
    "no-write": { type: "boolean", default: false },
    catalogs: { type: "string", default: "" },
    "catalog-steps": { type: "string", default: "10" },
  },
});

const steps = Number(args.steps);
const seed = Number(args.seed);
const threads = Number(args.threads);
const ds = await loadDataset("ml-1m");
const variants: { name: string; config: Record<string, unknown> }[] = [
  { name: "full", config: {} },
  ...args.negatives!.split(",").map((entry) => {
    const [sampler, n] = entry.includes(":") ? entry.split(":") : ["popularity", entry];
    if (sampler !== "popularity" && sampler !== "uniform") throw new Error(`--negatives: unknown sampler "${sampler}" in "${entry}" (popularity, uniform)`);
    if (!(Number(n) > 0)) throw new Error(`--negatives: "${entry}" needs a positive count`);
    return { name: sampler === "popularity" ? `sampled-${n}` : `sampled-${sampler}-${n}`, config: { softmax: "sampled", negatives: Number(n), negativeSampler: sampler } };
  }),
];
const rows: BenchRow[] = [];
// Which variant each row measured (its name keys `results` and `rates`).
const variantOf = new Map<BenchRow, string>();
const results: Record<string, { ndcg: number; recall: number; seqPerS: number }> = {};
for (const v of variants) {
  const outDir = join(args.out!, `lrurec-ml-1m-${v.name}`);
  console.log(`training ${v.name} for ${steps} steps into ${outDir}`);
  // validateEvery beyond the cap: one validation at step 0 and one at the end, so both variants spend the same on it
  // and the best parameters are the final ones.
  const res = await trainModel(getNeuralModel("lrurec"), ds, {
    config: { seed, validateEvery: steps, ...v.config },
    threads,
    maxSteps: steps,
    outDir,
    overwrite: true,
    annMinItems: Infinity,
    onProgress: (p) => {
      if (p.stage.startsWith("train") && p.done % 25 === 0) console.log(`  ${v.name} step ${p.done}/${p.total} ${JSON.stringify(p.info ?? {})}`);
    },
  });
  const m = res.test!.metrics;
  // A fresh run (overwrite) of `steps` > 0 steps times them all: no rate means no step ran, not a rate of 0.
  const seqPerS = res.examplesPerSecond;
  if (seqPerS === undefined) throw new Error(`${v.name}: the run timed no optimizer step`);
  results[v.name] = { ndcg: m["NDCG@10"], recall: m["Recall@10"], seqPerS };
  console.log(`${v.name}: N@10 ${m["NDCG@10"].toFixed(4)} R@10 ${m["Recall@10"].toFixed(4)} ${seqPerS.toFixed(1)} seq/s (${res.steps} steps, ${res.seconds.toFixed(0)} s)`);
  res.recommender.dispose();
  const variant = { softmax: v.name === "full" ? "full" : "sampled", ...(v.config.negatives ? { negatives: v.config.negatives, negativeSampler: v.config.negativeSampler } : {}), steps, seed, threads };
  rows.push({
    method: "lrurec",
    dataset: "ml-1m",
    protocol: "full-ranking",
    metrics: { "NDCG@10": m["NDCG@10"], "Recall@10": m["Recall@10"], "NDCG@20": m["NDCG@20"], "Recall@20": m["Recall@20"] },
    variant,
    // Not the headline of LRURec on ML-1M (bench/results/lrurec-ml-1m.json, trained to convergence): a budget comparison.
    notes: `test split after ${res.steps} steps (capped; the papers train to convergence, ~thousands of steps), data protocol ${ds.protocol}, preset ml-1m, seed ${seed}`,
  });
  rows.push({
    method: "lrurec",
    dataset: "ml-1m",
    protocol: "throughput",
    metrics: { seq_per_s: seqPerS, seconds: res.seconds },
    variant,
    notes: `sequences per second over the ${res.steps} optimizer steps (batch 128, ${threads} threads, validation excluded)`,
  });
  for (const row of rows.slice(-2)) variantOf.set(row, v.name);
}
// Larger catalogs: the same step on synthetic logs whose catalog grows, throughput only.
const catalogs = args.catalogs ? args.catalogs.split(",").map(Number) : [];
const catalogSteps = Number(args["catalog-steps"]);
for (const items of catalogs) {
  const log = join(args.out!, `synthetic-${items}-items.csv`);
  const info = writeSyntheticLog(log, { users: 6040, items, seed, zipf: 0.8 });
  const synth = await loadDataset("custom", { interactions: log, protocol: "none", cacheDir: join(args.out!, "cache"), refresh: true });
  const name = `synthetic-${items / 1000}k-items`;
  console.log(`${name}: ${info.rows} rows, ${synth.catalog.items.length - 1} items in the catalog`);
  const rates: Record<string, number> = {};
  for (const v of variants) {
    const res = await trainModel(getNeuralModel("lrurec"), synth, {
      config: { seed, validateEvery: catalogSteps, ...v.config },
      preset: "ml-1m",
      threads,
      maxSteps: catalogSteps,
      outDir: join(args.out!, `lrurec-${name}-${v.name}`),
      overwrite: true,
      annMinItems: Infinity,
      evalTest: false,
    });
    res.recommender.dispose();
    const seqPerS = res.examplesPerSecond;
    if (seqPerS === undefined) throw new Error(`${name} ${v.name}: the run timed no optimizer step`);
    rates[v.name] = seqPerS;
    console.log(`${name} ${v.name}: ${seqPerS.toFixed(1)} seq/s over ${res.steps} steps`);
    rows.push({
      method: "lrurec",
      dataset: name,
      protocol: "throughput",
      metrics: { seq_per_s: seqPerS, seconds: res.seconds },
      variant: { softmax: v.name === "full" ? "full" : "sampled", ...(v.config.negatives ? { negatives: v.config.negatives, negativeSampler: v.config.negativeSampler } : {}), steps: catalogSteps, seed, threads, items },
      // The README quotes the first sampled variant's ratio on each synthetic catalog (no other file has these datasets).
      ...(v === variants[1] ? { headline: true } : {}),
      notes: `seeded synthetic log (writeSyntheticLog: 6,040 users, 20-200 interactions each, Zipf 0.8 over ${items} ids, ${info.rows} rows; ${synth.catalog.items.length - 1} items after protocol none), preset ml-1m (batch 128, maxLen 200); sequences per second over ${res.steps} optimizer steps`,
    });
    variantOf.set(rows[rows.length - 1], v.name);
  }
  for (const row of rows.slice(-variants.length)) {
    const name = variantOf.get(row)!;
    if (name !== "full") row.notes += `; ${(rates[name] / rates.full).toFixed(2)}x the full softmax's throughput`;
  }
}

const full = results.full;
for (const row of rows) {
  const v = row.variant as { softmax: string; items?: number };
  if (v.softmax !== "sampled" || v.items !== undefined) continue;
  const r = results[variantOf.get(row)!];
  row.notes += row.protocol === "throughput"
    ? `; ${(r.seqPerS / full.seqPerS).toFixed(2)}x the full softmax's throughput`
    : `; ${((100 * r.ndcg) / full.ndcg).toFixed(1)}% of the full softmax's N@10, ${((100 * r.recall) / full.recall).toFixed(1)}% of its R@10`;
}
if (!args["no-write"]) {
  const root = sharedDir();
  writeBenchResult({
    benchmark: "sampled-softmax",
    command: `nice -n 19 npx tsx bench/sampled-softmax.ts --steps ${steps} --negatives ${args.negatives} --threads ${threads} --seed ${seed}${catalogs.length ? ` --catalogs ${args.catalogs} --catalog-steps ${catalogSteps}` : ""}`,
    inputs: root ? [join(root, "data", "ml-1m", "lrurec", "dataset.json")] : [],
    rows,
  });
}
