import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qualityHeadlineSpec } from "../../src/report/charts.ts";
import { headlineRows, readResultFile, type ResultRow } from "../../src/report/inputs.ts";
import { writeReport } from "../../src/report/report.ts";
import { svgToPng } from "../../src/plots/render.ts";

const tmp = mkdtempSync(join(tmpdir(), "reclm-report-"));
const m = (ndcg: number, recall: number) => ({ "NDCG@10": ndcg, "Recall@10": recall });
const row = (over: Partial<ResultRow>): ResultRow => ({ method: "lrurec", dataset: "ml-latest-small", protocol: "full-ranking", metrics: m(0.06, 0.12), file: "f.json", index: 0, ...over });

/** PNG width and height from its IHDR chunk. */
function pngSize(path: string): [number, number] {
  const b = readFileSync(path);
  expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

describe("headline rows", () => {
  it("takes the marked row, or the only one; a group with several and not one marked is unresolved", () => {
    const a = row({ index: 0, variant: { seed: 1 } });
    const b = row({ index: 1, variant: { seed: 2 } });
    const mean = row({ index: 2, seeds: 2, headline: true });
    const single = row({ method: "cooc", index: 3 });
    const x1 = row({ method: "sasrec", index: 4 });
    const x2 = row({ method: "sasrec", index: 5 });
    const h = headlineRows([a, b, mean, single, x1, x2]);
    expect(h.rows).toEqual([mean, single]);
    expect(h.unresolved).toEqual([{ key: "sasrec|ml-latest-small|full-ranking", rows: [x1, x2], marked: 0 }]);
    expect(headlineRows([{ ...a, headline: true }, { ...b, headline: true }]).unresolved[0].marked).toBe(2);
  });

  it("charts one bar per headline row with the seeds' spread and the paper's number", () => {
    const spec = qualityHeadlineSpec(
      [row({ seeds: 4, metrics: m(0.065, 0.125), metrics_std: m(0.005, 0.0075) }), row({ method: "pop", metrics: m(0.02, 0.04) })],
      (method, _d, metric) => (method === "lrurec" ? { "NDCG@10": 0.0705, "Recall@10": 0.1426 }[metric] : undefined),
    ) as unknown as { vconcat: { hconcat: { data: { values: { label: string; value: number; lo: number | null; hi: number | null; target: number | null }[] } }[] }[] };
    expect(spec.vconcat).toHaveLength(1);
    const [ndcg, recall] = spec.vconcat[0].hconcat.map((p) => p.data.values);
    expect(ndcg.map((p) => p.label)).toEqual(["lrurec (mean of 4 seeds)", "pop"]);
    expect(ndcg[0]).toMatchObject({ value: 0.065, lo: expect.closeTo(0.06, 12), hi: expect.closeTo(0.07, 12), target: 0.0705 });
    expect(recall[1]).toMatchObject({ value: 0.04, lo: null, hi: null, target: null });
  });
});

describe("writeReport", () => {
  const results = join(tmp, "quality.json");
  writeFileSync(
    results,
    JSON.stringify({
      benchmark: "quality",
      command: "npx tsx bench/x.ts",
      machine: "2 cores",
      date: "2026-12-01T00:00:00Z",
      rows: [
        { method: "lrurec", dataset: "ml-latest-small", protocol: "full-ranking", variant: { seed: 42 }, metrics: m(0.07, 0.13) },
        { method: "lrurec", dataset: "ml-latest-small", protocol: "full-ranking", variant: { seed: 43 }, metrics: m(0.06, 0.12) },
        { method: "lrurec", dataset: "ml-latest-small", protocol: "full-ranking", headline: true, seeds: 2, metrics: m(0.065, 0.125), metrics_std: m(0.007, 0.007) },
        { method: "sasrec", dataset: "ml-latest-small", protocol: "full-ranking", metrics: m(0.05, 0.1) },
        { method: "sasrec", dataset: "ml-latest-small", protocol: "full-ranking", metrics: m(0.04, 0.09) },
        { method: "cooc", dataset: "ml-latest-small", protocol: "serve-load", metrics: { p50_ms: 1.5, p99_ms: 6, req_per_s: 900 } },
      ],
    }),
  );
  const run = join(tmp, "run-a");
  mkdirSync(run);
  writeFileSync(
    join(run, "report.json"),
    JSON.stringify({
      model: "lrurec",
      dataset: "embedded",
      config: { selectMetric: "Recall@10" },
      best: { step: 20 },
      validations: [
        { step: 0, loss: null, metrics: m(0.01, 0.02) },
        { step: 20, loss: 5.5, metrics: m(0.2, 0.3) },
      ],
      test: { metrics: m(0.21, 0.31) },
    }),
  );

  it("writes every chart as SVG and PNG, a self-contained HTML and a markdown file, and says which groups lack a headline", async () => {
    const out = join(tmp, "out");
    const r = await writeReport([results, run], { outDir: out, title: "test report" });
    expect(r.charts.map((c) => c.name)).toEqual(["quality", "quality-variants", "latency", "runs", "training-1-run-a"]);
    for (const c of r.charts) {
      expect(readFileSync(c.svgPath, "utf8")).toMatch(/^<svg/);
      const [w, h] = pngSize(c.pngPath);
      expect(w).toBeGreaterThan(200);
      expect(h).toBeGreaterThan(50);
    }
    expect(r.warnings).toEqual([expect.stringMatching(/^sasrec\|ml-latest-small\|full-ranking: 2 rows \(quality\.json\), 0 marked/)]);
    const html = readFileSync(r.html, "utf8");
    expect(html.match(/<img [^>]*src="data:image\/svg\+xml;base64,/g)).toHaveLength(5);
    expect(html).not.toMatch(/(src|href)="(?!data:)/);
    // The headline table: the mean row with its spread beside the paper's number, never a single seed.
    expect(html).toMatch(/<td>lrurec<\/td><td>ml-latest-small<\/td><td>2<\/td><td>0\.0650 ± 0\.0070<\/td><td>0\.0705<\/td>/);
    const md = readFileSync(r.markdown, "utf8");
    for (const c of r.charts) expect(md).toContain(`](${c.name}.png)`);
    expect(md).toContain("| cooc | ml-latest-small | serve-load |");
    // The headline chart holds the headline rows only: the mean, not seeds 42 and 43.
    const quality = readFileSync(join(out, "quality.svg"), "utf8");
    expect(quality).toContain("lrurec (mean of 2 seeds)");
    expect(quality).not.toContain("seed=42");
    expect(readFileSync(join(out, "quality-variants.svg"), "utf8")).toContain("lrurec (seed=42)");
  });

  it("names the file and field of a bad input", async () => {
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, JSON.stringify({ benchmark: "x", rows: [{ method: "a", dataset: "b", protocol: "c", metrics: { R: "high" } }] }));
    expect(() => readResultFile(bad)).toThrow(/bad\.json, field "rows\[0\]\.metrics\.R"/);
    await expect(writeReport([join(tmp, "missing.json")], { outDir: join(tmp, "o2") })).rejects.toMatchObject({ code: "RECLM_ERR_FILE_NOT_FOUND" });
    await expect(writeReport([tmp], { outDir: join(tmp, "o3") })).rejects.toThrow(/no report\.json/);
    expect(existsSync(join(tmp, "o3"))).toBe(false);
  });

  it("rasterizes at the asked scale", () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40"><rect width="100" height="40" fill="red"/></svg>';
    const p = join(tmp, "x.png");
    writeFileSync(p, svgToPng(svg, 3));
    expect(pngSize(p)).toEqual([300, 120]);
  });
});
