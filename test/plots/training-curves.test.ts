import { describe, expect, it } from "vitest";
import { renderSvg } from "../../src/plots/render.ts";
import { trainingCurvesSpec } from "../../src/plots/training-curves.ts";

const validations = [
  { step: 0, loss: null, metrics: { "Recall@10": 0.01, "NDCG@10": 0.005 } },
  { step: 500, loss: 6.9, metrics: { "Recall@10": 0.08, "NDCG@10": 0.037 } },
  { step: 1000, loss: 5.8, metrics: { "Recall@10": 0.095, "NDCG@10": 0.041 } },
];

describe("training curves", () => {
  it("plots the loss where it exists, the selected metric and NDCG at the same k, and the best step", () => {
    const spec = trainingCurvesSpec({ title: "lrurec on x", validations, selectMetric: "Recall@10", bestStep: 1000 }) as unknown as {
      vconcat: [{ data: { values: { step: number }[] } }, { layer: [{ data: { values: { metric: string }[] } }, { data: { values: { step: number }[] } }] }];
    };
    expect(spec.vconcat[0].data.values.map((v) => v.step)).toEqual([500, 1000]); // no loss before the first step
    expect(new Set(spec.vconcat[1].layer[0].data.values.map((v) => v.metric))).toEqual(new Set(["Recall@10", "NDCG@10"]));
    expect(spec.vconcat[1].layer[1].data.values).toEqual([{ step: 1000 }]);
  });

  it("renders to a standalone SVG document with its title", async () => {
    const svg = await renderSvg(trainingCurvesSpec({ title: "lrurec on ml-latest-small", validations, selectMetric: "Recall@10", bestStep: 1000 }));
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("lrurec on ml-latest-small");
    expect(svg).toContain("Recall@10");
    expect((svg.match(/<path/g) ?? []).length).toBeGreaterThan(3);
  });
});
