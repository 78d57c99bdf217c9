/**
 * Brings result files written before the conventions' `variant` and `headline` fields to that shape, figures
 * untouched: a method named with its variant (lrurec-d0.4-batch-means-b16-mean) becomes the method (lrurec) with
 * a `variant` object (dropout 0.4, averaging batch-means-16, seed or mean of seeds), and in each
 * method/dataset/protocol with several rows the row the README quotes is marked `"headline": true` (HEADLINES below:
 * the mean over seeds, per-user averaging, the settings the preset now uses). Rows that already carry a `variant`
 * are left as they are, so running it again changes nothing.
 *   npx tsx bench/tools/result-variants.ts bench/results/*.json
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ReclmError } from "../../src/errors.ts";
import { writeJsonAtomic } from "../../src/io.ts";
import type { BenchRow } from "../lib/results.ts";

type Row = BenchRow & { variant?: Record<string, unknown>; headline?: boolean };

/** Methods in the order they are tried (longest first): a name's first matching prefix is its method. */
const METHODS = ["lrurec-pytorch", "sasrec-pytorch", "lrurec", "sasrec", "bert4rec", "narm", "gru4rec", "caser", "pop", "cooc"];

/** file#row of the headline in each group with several rows, and why it is that one. */
const HEADLINES: Record<string, string> = {
  "lrurec-ml-latest-small-authors-split.json#16": "lrurec on ml-latest-small: dropout 0.4 (the grid's best validation), LlamaRec's exact split, mean of 4 seeds, per-user",
  "lrurec-ml-latest-small-authors-split.json#18": "the PyTorch reference on the same split and settings, mean of 4 seeds",
  "lrurec-beauty-dropout-0.6.json#4": "lrurec on beauty: dropout 0.6 (LRURec's Beauty setting, now the preset), mean of 2 seeds",
  "lrurec-ml-1m.json#4": "lrurec on ml-1m: mean of 2 seeds, per-user",
  "sasrec-ml-latest-small.json#1": "sasrec on ml-latest-small: truncated-normal embeddings (the preset now)",
  "sasrec-ml-1m.json#0": "sasrec on ml-1m: per-user figure of the one run",
  "bert4rec-ml-latest-small.json#1": "bert4rec on ml-latest-small: truncated-normal embeddings, the longest run",
  "throughput-ml-latest-small-b16.json#2": "2 threads: both cores",
  "throughput-ml-latest-small-b16.json#3": "2 threads: both cores",
  "throughput-ml-latest-small-b16.json#6": "2 threads: both cores",
  "throughput-ml-latest-small-b16.json#7": "2 threads: both cores",
  "throughput.json#2": "2 threads: both cores",
  "throughput.json#3": "2 threads: both cores",
  "throughput.json#6": "2 threads: both cores",
  "throughput.json#7": "2 threads: both cores",
};

/** lrurec-d0.4-wd0-batch-means-b16-mean -> lrurec, { dropout: 0.4, weightDecay: 0, averaging: "batch-means-16" }. */
function fromName(row: Row, file: string): { method: string; variant: Record<string, unknown> } {
  const method = METHODS.find((m) => row.method === m || row.method.startsWith(`${m}-`));
  if (!method) return { method: row.method, variant: {} }; // engine, reclm-bpe: not a recommender's row
  let rest = row.method.slice(method.length).replace(/^-/, "");
  const variant: Record<string, unknown> = {};
  const take = (re: RegExp, put: (m: RegExpExecArray) => void) => {
    const m = re.exec(rest);
    if (!m) return;
    put(m);
    rest = (rest.slice(0, m.index) + rest.slice(m.index + m[0].length)).replace(/--+/g, "-").replace(/^-|-$/g, "");
  };
  take(/(?:^|-)d(\d+(?:\.\d+)?)(?=-|$)/, (m) => (variant.dropout = Number(m[1])));
  take(/(?:^|-)wd(\d+(?:\.\d+)?)(?=-|$)/, (m) => (variant.weightDecay = Number(m[1])));
  take(/(?:^|-)(?:mean-of-)?batch-means-b(\d+)(?=-|$)/, (m) => (variant.averaging = `batch-means-${m[1]}`));
  take(/(?:^|-)(?:tn|truncated-normal-init)(?=-|$)/, () => (variant.embeddingInit = "truncated-normal"));
  take(/(?:^|-)recipe-normal-init(?=-|$)/, () => (variant.embeddingInit = "normal"));
  take(/(?:^|-)mean$/, () => undefined);
  if (rest !== "") throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${row.method}": cannot read "${rest}" as a variant`, { file, field: "method" });
  return { method, variant };
}

/** What tells rows of one method/dataset/protocol apart besides their name: seed, seeds, threads, split, averaging. */
function fromContext(row: Row, file: string, variant: Record<string, unknown>, groupHasBatchMeans: boolean): void {
  if (row.protocol === "full-ranking" && groupHasBatchMeans && variant.averaging === undefined) variant.averaging = "per-user";
  if (file.includes("authors-split")) variant.split = "authors";
  const threads = /\b(\d+) threads\b/.exec(row.notes ?? "")?.[1];
  if (row.protocol === "throughput" && threads) variant.threads = Number(threads);
  const seed = /\bseed (\d+)\b/.exec(row.notes ?? "")?.[1];
  if ((row.seeds ?? 1) === 1 && seed !== undefined) variant.seed = Number(seed);
  if ((row.seeds ?? 1) > 1) variant.seeds = `mean of ${row.seeds}`;
}

const files = process.argv.slice(2).map((path) => ({ path, file: basename(path), result: JSON.parse(readFileSync(path, "utf8")) as { rows: Row[] } }));
const named = files.flatMap(({ file, result }) => result.rows.map((row, i) => ({ file, i, row, ...(row.variant === undefined ? fromName(row, file) : { method: row.method, variant: row.variant }) })));
const groups = new Map<string, typeof named>();
for (const n of named) {
  const key = `${n.method}|${n.row.dataset}|${n.row.protocol}`;
  groups.set(key, [...(groups.get(key) ?? []), n]);
}
for (const { path, file, result } of files) {
  let changed = 0;
  result.rows = result.rows.map((row, i) => {
    if (row.variant !== undefined) return row;
    const n = named.find((x) => x.file === file && x.i === i)!;
    const group = groups.get(`${n.method}|${row.dataset}|${row.protocol}`)!;
    const variant = { ...n.variant };
    if (group.length > 1) fromContext(row, file, variant, group.some((g) => String(g.variant.averaging ?? "").startsWith("batch-means")));
    const headline = Object.hasOwn(HEADLINES, `${file}#${i}`);
    if (n.method === row.method && Object.keys(variant).length === 0 && !headline) return row;
    changed++;
    // Key order as the conventions write it: the names, the variant, the headline, then the rest.
    const { method: _m, dataset, protocol, ...others } = row;
    return { method: n.method, dataset, protocol, ...(Object.keys(variant).length ? { variant } : {}), ...(headline ? { headline: true } : {}), ...others };
  });
  if (changed) {
    writeJsonAtomic(path, result);
    console.log(`${path}: ${changed} rows`);
  }
}
