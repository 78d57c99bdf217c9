/**
 * The report's charts as Vega-Lite specs: quality by method and dataset (one bar per method: its headline row, the
 * seeds' spread as an error bar, the paper's number as a red tick), every variant in a detail chart, and latency and
 * throughput of the serving benchmarks. Training curves are src/plots/training-curves.ts.
 */
import type { ChartSpec } from "../plots/render.ts";
import { variantText, type ResultRow } from "./inputs.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
export const QUALITY_METRICS: readonly string[] = ["NDCG@10", "Recall@10"];

/** The paper's figure for a method on a dataset, if there is one. */
export type TargetOf = (method: string, dataset: string, metric: string) => number | undefined;

/** Rows that carry every quality metric: full-ranking results. */
export function qualityRows(rows: readonly ResultRow[], metrics: readonly string[] = QUALITY_METRICS): ResultRow[] {
  return rows.filter((r) => r.protocol === "full-ranking" && metrics.every((m) => Number.isFinite(r.metrics[m])));
}

interface QualityPoint {
  dataset: string;
  label: string;
  metric: string;
  value: number;
  lo: number | null;
  hi: number | null;
  target: number | null;
  headline: boolean;
}

function points(rows: readonly ResultRow[], metrics: readonly string[], label: (r: ResultRow) => string, target: TargetOf, headline: (r: ResultRow) => boolean): QualityPoint[] {
  return rows.flatMap((r) =>
    metrics.map((metric) => {
      const std = r.metrics_std?.[metric];
      const value = r.metrics[metric];
      return {
        dataset: r.dataset,
        label: label(r),
        metric,
        value,
        lo: std === undefined ? null : value - std,
        hi: std === undefined ? null : value + std,
        target: target(r.method, r.dataset, metric) ?? null,
        headline: headline(r),
      };
    }),
  );
}

function qualityPanel(values: QualityPoint[], dataset: string, metric: string, labelWidth: number, colorByHeadline: boolean) {
  const y = { field: "label", type: "nominal", title: null, sort: null, axis: { labelLimit: labelWidth } } as const;
  return {
    title: `${dataset}: ${metric}`,
    width: 260,
    height: { step: 18 },
    data: { values: values.filter((p) => p.dataset === dataset && p.metric === metric) },
    layer: [
      {
        mark: { type: "bar", ...(colorByHeadline ? {} : { color: "#4c78a8" }) },
        encoding: {
          y,
          x: { field: "value", type: "quantitative", title: null, stack: null },
          ...(colorByHeadline
            ? { color: { field: "headline", type: "nominal", title: "headline row", scale: { domain: [true, false], range: ["#4c78a8", "#b8c7dc"] } } }
            : {}),
          tooltip: [{ field: "label" }, { field: "value", format: ".4f" }, { field: "target", format: ".4f", title: "paper" }],
        },
      },
      { mark: { type: "rule", color: "black" }, transform: [{ filter: "datum.lo != null" }], encoding: { y, x: { field: "lo", type: "quantitative" }, x2: { field: "hi" } } },
      { mark: { type: "tick", color: "#d62728", thickness: 3 }, transform: [{ filter: "datum.target != null" }], encoding: { y, x: { field: "target", type: "quantitative" } } },
      {
        // The figure right of everything drawn on its row (bar, error bar, paper tick).
        transform: [{ calculate: "max(datum.value, datum.hi == null ? 0 : datum.hi, datum.target == null ? 0 : datum.target)", as: "labelAt" }],
        mark: { type: "text", align: "left", dx: 5, fontSize: 10 },
        encoding: { y, x: { field: "labelAt", type: "quantitative" }, text: { field: "value", format: ".4f" } },
      },
    ],
  };
}

function qualityGrid(values: QualityPoint[], metrics: readonly string[], title: string, labelWidth: number, colorByHeadline: boolean): ChartSpec {
  const datasets = [...new Set(values.map((p) => p.dataset))].sort();
  return {
    $schema: SCHEMA,
    title: { text: title, anchor: "start" },
    background: "white",
    vconcat: datasets.map((d) => ({ hconcat: metrics.map((m) => qualityPanel(values, d, m, labelWidth, colorByHeadline)) })),
  } as unknown as ChartSpec;
}

/** How a headline row is labelled: the method, and how many seeds its figure is the mean of. */
function headlineLabel(r: ResultRow): string {
  return (r.seeds ?? 1) > 1 ? `${r.method} (mean of ${r.seeds} seeds)` : r.method;
}

/** One bar per method and dataset (its headline row), the spread over seeds where the row has it, the paper's tick. */
export function qualityHeadlineSpec(headlines: readonly ResultRow[], target: TargetOf, metrics: readonly string[] = QUALITY_METRICS): ChartSpec {
  const rows = [...qualityRows(headlines, metrics)].sort((a, b) => a.method.localeCompare(b.method));
  return qualityGrid(
    points(rows, metrics, headlineLabel, target, () => true),
    metrics,
    "Full ranking, test split: one headline row per method (black: ± std over seeds; red: the paper's number)",
    280,
    false,
  );
}

/** Every row, variants included, labelled by what differs and where it comes from; headline rows in dark blue. */
export function qualityVariantsSpec(rows: readonly ResultRow[], headlines: readonly ResultRow[], target: TargetOf, metrics: readonly string[] = QUALITY_METRICS): ChartSpec {
  const isHeadline = new Set(headlines);
  const label = (r: ResultRow) => {
    const v = variantText(r);
    return `${r.method}${v ? ` (${v})` : ""} · ${r.file.replace(/\.json$/, "")} #${r.index + 1}`;
  };
  const sorted = [...qualityRows(rows, metrics)].sort((a, b) => a.method.localeCompare(b.method) || a.file.localeCompare(b.file) || a.index - b.index);
  return qualityGrid(points(sorted, metrics, label, target, (r) => isHeadline.has(r)), metrics, "Full ranking, test split: every result row (red: the paper's number)", 720, true);
}

/** Rows with serving or step timings: p50/p99 per method and dataset, and requests per second where measured. */
export function latencyRows(rows: readonly ResultRow[]): ResultRow[] {
  return rows.filter((r) => Number.isFinite(r.metrics.p50_ms) || Number.isFinite(r.metrics.p99_ms));
}

export function latencySpec(rows: readonly ResultRow[]): ChartSpec {
  const chosen = latencyRows(rows);
  const label = (r: ResultRow) => `${r.method} · ${r.dataset}${r.variant ? ` (${variantText(r)})` : ""}`;
  const times = chosen.flatMap((r) => ["p50_ms", "p99_ms"].filter((k) => Number.isFinite(r.metrics[k])).map((k) => ({ protocol: r.protocol, label: label(r), stat: k.replace("_ms", ""), value: r.metrics[k] })));
  const rates = chosen.filter((r) => Number.isFinite(r.metrics.req_per_s)).map((r) => ({ protocol: r.protocol, label: label(r), value: r.metrics.req_per_s }));
  const protocols = [...new Set(chosen.map((r) => r.protocol))].sort();
  const y = { field: "label", type: "nominal", title: null, sort: null, axis: { labelLimit: 420 } } as const;
  return {
    $schema: SCHEMA,
    title: { text: "Latency (ms) and throughput by method and dataset", anchor: "start" },
    background: "white",
    vconcat: protocols.map((p) => ({
      hconcat: [
        {
          title: `${p}: latency (ms)`,
          width: 260,
          height: { step: 14 },
          data: { values: times.filter((t) => t.protocol === p) },
          mark: { type: "bar" },
          encoding: {
            y,
            yOffset: { field: "stat" },
            x: { field: "value", type: "quantitative", title: null },
            color: { field: "stat", type: "nominal", title: null, scale: { domain: ["p50", "p99"], range: ["#4c78a8", "#f58518"] }, legend: { orient: "top" } },
          },
        },
        ...(rates.some((r) => r.protocol === p)
          ? [
              {
                title: `${p}: requests per second`,
                width: 200,
                height: { step: 28 },
                data: { values: rates.filter((r) => r.protocol === p) },
                mark: { type: "bar", color: "#54a24b" },
                encoding: { y, x: { field: "value", type: "quantitative", title: null } },
              },
            ]
          : []),
      ],
    })),
  } as unknown as ChartSpec;
}
