/**
 * One chart of every committed full-ranking quality result (bench/results/*.json rows with NDCG@10 and Recall@10),
 * per dataset, each bar next to the paper's number for that model (bench/lib/paper-targets.ts, red tick).
 *   npx tsx bench/plot-quality.ts      -> bench/results/quality.svg
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../src/paths.ts";
import { writeSvg, type ChartSpec } from "../src/plots/render.ts";
import { paperTarget } from "./lib/paper-targets.ts";

const dir = join(PACKAGE_ROOT, "bench", "results");
interface Row {
  method: string;
  dataset: string;
  protocol: string;
  metrics: Record<string, number>;
  seeds?: number;
}
const points: { dataset: string; label: string; metric: string; value: number; target: number | null }[] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  const { rows } = JSON.parse(readFileSync(join(dir, file), "utf8")) as { rows: Row[] };
  for (const [i, r] of rows.entries()) {
    if (r.protocol !== "full-ranking" || r.metrics["NDCG@10"] === undefined || r.metrics["Recall@10"] === undefined) continue;
    // Methods are named <model>[-<variant>...] (lrurec-pytorch, sasrec-truncated-normal-init, bert4rec-recipe-normal-init).
    const model = r.method.split("-")[0];
    const target = paperTarget(model, r.dataset);
    const seed = /seed (\d+)/.exec((r as Row & { notes?: string }).notes ?? "")?.[1];
    const label = `${r.method}${(r.seeds ?? 1) > 1 ? ` (${r.seeds} seeds)` : seed ? ` (seed ${seed})` : ""} · ${file.replace(/\.json$/, "")} #${i + 1}`;
    for (const metric of ["NDCG@10", "Recall@10"]) points.push({ dataset: r.dataset, label, metric, value: r.metrics[metric], target: target?.metrics[metric] ?? null });
  }
}

const panel = (dataset: string, metric: string) => ({
  title: `${dataset}: ${metric}`,
  width: 260,
  height: { step: 16 },
  data: { values: points.filter((p) => p.dataset === dataset && p.metric === metric) },
  layer: [
    {
      mark: { type: "bar", color: "#4c78a8" },
      encoding: { y: { field: "label", type: "nominal", title: null, sort: null, axis: { labelLimit: 420 } }, x: { field: "value", type: "quantitative", title: null, stack: null } },
    },
    { mark: { type: "tick", color: "#d62728", thickness: 3 }, encoding: { y: { field: "label", type: "nominal", sort: null }, x: { field: "target", type: "quantitative" } } },
  ],
});
const datasets = [...new Set(points.map((p) => p.dataset))];
const spec = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  title: "Full ranking, test split, history masked (bars: reclm; red ticks: the paper's number for that model)",
  background: "white",
  vconcat: datasets.map((d) => ({ hconcat: [panel(d, "NDCG@10"), panel(d, "Recall@10")] })),
} as unknown as ChartSpec;

const out = await writeSvg(join(dir, "quality.svg"), spec);
console.log(`${points.length / 2} result rows -> ${out}`);
