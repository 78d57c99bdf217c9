/**
 * The training curves of a run (report.json's `validations`): mean training loss between validations, and the
 * validation metrics over steps with the selected (best) step marked. Written as training.svg in every run dir.
 */
import type { ChartSpec } from "./render.ts";

export interface CurvePoint {
  step: number;
  loss: number | null;
  metrics: Readonly<Record<string, number>>;
}

export interface TrainingCurvesInput {
  title: string;
  validations: readonly CurvePoint[];
  /** The metric that selects the best step, e.g. "Recall@10". */
  selectMetric: string;
  bestStep?: number;
  /** Metrics drawn in the lower panel; default: the select metric and NDCG at the same k. */
  metrics?: readonly string[];
}

export function trainingCurvesSpec(input: TrainingCurvesInput): ChartSpec {
  const k = /@(\d+)$/.exec(input.selectMetric)?.[1] ?? "10";
  const metrics = input.metrics ?? [...new Set([input.selectMetric, `Recall@${k}`, `NDCG@${k}`])];
  const loss = input.validations.filter((v) => v.loss !== null && Number.isFinite(v.loss)).map((v) => ({ step: v.step, loss: v.loss }));
  const vals = input.validations.flatMap((v) =>
    metrics.filter((m) => Number.isFinite(v.metrics[m])).map((m) => ({ step: v.step, metric: m, value: v.metrics[m] })),
  );
  const x = { field: "step", type: "quantitative", title: "optimizer step" } as const;
  const best = input.bestStep === undefined ? [] : [{ step: input.bestStep }];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: input.title,
    background: "white",
    resolve: { scale: { x: "shared" } },
    vconcat: [
      {
        width: 520,
        height: 160,
        title: "training loss (mean since the previous validation)",
        data: { values: loss },
        mark: { type: "line", color: "black", point: { color: "black" } },
        encoding: { x, y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } } },
      },
      {
        width: 520,
        height: 200,
        title: `validation (best step by ${input.selectMetric})`,
        layer: [
          {
            data: { values: vals },
            mark: { type: "line", point: true },
            encoding: {
              x,
              y: { field: "value", type: "quantitative", title: "metric" },
              color: { field: "metric", type: "nominal", title: null },
            },
          },
          {
            data: { values: best },
            mark: { type: "rule", strokeDash: [4, 4], color: "gray" },
            encoding: { x },
          },
        ],
      },
    ],
  } as ChartSpec;
}
