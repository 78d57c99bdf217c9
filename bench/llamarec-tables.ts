/**
 * Reads LlamaRec's own Tables 1 and 3 against each other, to learn what its LRURec numbers are (no training, no data):
 *
 *   npx tsx bench/llamarec-tables.ts
 *
 * For a column whose subset is its own retriever's top-20 (LRURec, and LlamaRec re-ranking those 20), every user
 * outside the subset scores 0 at @5 and @10, so overall = subset × share of users in the subset, the SAME share for
 * all six metrics (anchors §1.3). The LlamaRec column is computed that way by the paper's code, so its six ratios
 * give the share. Where the LRURec column's ratios disagree with it, Table 1 holds a different average than the
 * per-user mean: the retriever's `test()` reports the mean of per-batch means (batch 16 on ML-100k, whose 610 users
 * leave a last batch of 2 that weighs as much as a full one). This script searches the ranks of those 2 users that
 * turn the per-user figures implied by Table 3 into Table 1's, and prints the per-user figures the paper's LRURec had.
 */
import {
  LLAMAREC_DATASETS,
  LLAMAREC_METRICS,
  LLAMAREC_TABLE1,
  LLAMAREC_TABLE3,
  llamarecCell,
  type LlamaRecDataset,
  type LlamaRecMetric,
} from "../src/report/llamarec-tables.ts";

/** Users after LlamaRec's preprocessing (its Table 2; reclm's loaders give the same counts). */
const USERS: Record<LlamaRecDataset, number> = { "ml-latest-small": 610, beauty: 22332, games: 15264 };
/** LlamaRec's retriever test batch size per dataset (anchors §1.2). */
const TEST_BATCH: Record<LlamaRecDataset, number> = { "ml-latest-small": 16, beauty: 64, games: 64 };
const HALF_ULP = 5e-5; // the tables print 4 decimals

const fmt = (x: number, d = 4) => x.toFixed(d);

function ratio(dataset: LlamaRecDataset, method: "lrurec" | "llamarec", metric: LlamaRecMetric): number {
  return llamarecCell(LLAMAREC_TABLE1, dataset, method, metric) / llamarecCell(LLAMAREC_TABLE3, dataset, method, metric);
}

/** Subset sizes n whose share n/users fits every LlamaRec-column ratio within the tables' rounding. */
function subsetSizes(dataset: LlamaRecDataset): number[] {
  let lo = 0, hi = 1;
  for (const m of LLAMAREC_METRICS) {
    const t1 = llamarecCell(LLAMAREC_TABLE1, dataset, "llamarec", m);
    const t3 = llamarecCell(LLAMAREC_TABLE3, dataset, "llamarec", m);
    lo = Math.max(lo, (t1 - HALF_ULP) / (t3 + HALF_ULP));
    hi = Math.min(hi, (t1 + HALF_ULP) / (t3 - HALF_ULP));
  }
  const n = USERS[dataset];
  const sizes: number[] = [];
  for (let k = Math.ceil(lo * n); k <= Math.floor(hi * n); k++) sizes.push(k);
  return sizes;
}

/** One user's metric value when the ground truth sits at `rank` (Infinity = outside the top-20). */
function value(metric: LlamaRecMetric, rank: number): number {
  const [kind, kText] = metric.split("@");
  if (rank > Number(kText)) return 0;
  if (kind === "Recall") return 1;
  if (kind === "NDCG") return 1 / Math.log2(rank + 1);
  return 1 / rank;
}

console.log("overall / subset per metric (Table 1 / Table 3); one share per column if both tables hold per-user means\n");
console.log(["dataset", "column", ...LLAMAREC_METRICS].map((s) => s.padEnd(16)).join(""));
for (const ds of LLAMAREC_DATASETS) {
  for (const method of ["llamarec", "lrurec"] as const) {
    console.log([ds, method, ...LLAMAREC_METRICS.map((m) => fmt(ratio(ds, method, m)))].map((s) => s.padEnd(16)).join(""));
  }
}

for (const ds of LLAMAREC_DATASETS) {
  const users = USERS[ds];
  const sizes = subsetSizes(ds);
  console.log(`\n${ds}: ${users} users; subset sizes that fit the LlamaRec column's six ratios: ${sizes.join(", ") || "none"}`);
  for (const nSub of sizes) {
    const perUser = Object.fromEntries(LLAMAREC_METRICS.map((m) => [m, (llamarecCell(LLAMAREC_TABLE3, ds, "lrurec", m) * nSub) / users])) as Record<LlamaRecMetric, number>;
    const line = LLAMAREC_METRICS.map((m) => {
      const t1 = llamarecCell(LLAMAREC_TABLE1, ds, "lrurec", m);
      return `${m} ${fmt(perUser[m])} (Table 1 ${fmt(t1)}, ${(((t1 - perUser[m]) / perUser[m]) * 100).toFixed(1)}%)`;
    });
    console.log(`  n=${nSub} (share ${fmt(nSub / users)}): LRURec per-user = Table 3 × share: ${line.join("; ")}`);

    const batch = TEST_BATCH[ds];
    const last = users % batch;
    // Only a small last batch moves the mean of batch means noticeably, and only then is the search small.
    if (last === 0 || last > 3) continue;
    const batches = Math.ceil(users / batch);
    // Ranks of the last batch's users: 1..10, or anything beyond (the same at @5 and @10).
    const ranks = [...Array.from({ length: 10 }, (_, i) => i + 1), Infinity];
    const fits: { ranks: number[]; err: number; pred: Record<LlamaRecMetric, number> }[] = [];
    const visit = (chosen: number[], from: number): void => {
      if (chosen.length < last) {
        for (let i = from; i < ranks.length; i++) visit([...chosen, ranks[i]], i);
        return;
      }
      const pred = {} as Record<LlamaRecMetric, number>;
      let err = 0;
      for (const m of LLAMAREC_METRICS) {
        const lastSum = chosen.reduce((s, r) => s + value(m, r), 0);
        pred[m] = ((perUser[m] * users - lastSum) / batch + lastSum / last) / batches;
        const t1 = llamarecCell(LLAMAREC_TABLE1, ds, "lrurec", m);
        err = Math.max(err, Math.abs(pred[m] - t1) / t1);
      }
      fits.push({ ranks: chosen, err, pred });
    };
    visit([], 0);
    fits.sort((a, b) => a.err - b.err);
    const fit = fits[0];
    const showRanks = (r: number[]) => r.map((x) => (x === Infinity ? ">10" : x)).join(", ");
    console.log(
      `    mean of ${batches} batch means, last batch of ${last} users at ranks ${showRanks(fit.ranks)}: ` +
        LLAMAREC_METRICS.map((m) => `${m} ${fmt(fit.pred[m])}`).join("; ") +
        `; worst gap to Table 1 ${(fit.err * 100).toFixed(1)}%`,
    );
    const close = fits.filter((f) => f.err < 0.02);
    console.log(`    ranks that fit all six within 2%: ${close.map((f) => `(${showRanks(f.ranks)}) ${(f.err * 100).toFixed(1)}%`).join("; ")}`);
  }
}
