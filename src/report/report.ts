/**
 * `reclm report`: run dirs and benchmark results -> charts (SVG + PNG), one self-contained HTML file that embeds
 * them (no network, no files beside it needed) and a markdown file that links the PNGs beside it.
 */
import { basename, join, relative } from "node:path";
import { writeFileAtomic } from "../io.ts";
import { writeChart, type ChartSpec } from "../plots/render.ts";
import { trainingCurvesSpec } from "../plots/training-curves.ts";
import { latencyRows, latencySpec, QUALITY_METRICS, qualityHeadlineSpec, qualityRows, qualityVariantsSpec, type TargetOf } from "./charts.ts";
import { headlineRows, readReportInputs, variantText, type ResultRow, type RunReport } from "./inputs.ts";
import { paperTarget } from "./paper-targets.ts";

export interface ReportOptions {
  /** Where the charts, report.html and report.md go. */
  outDir: string;
  title?: string;
  /** Quality metrics to chart. Default NDCG@10, Recall@10. */
  metrics?: readonly string[];
  /** The paper's number for a method (its first name segment: lrurec-pytorch -> lrurec) on a dataset. */
  target?: TargetOf;
}

export interface ReportChart {
  name: string;
  title: string;
  svgPath: string;
  pngPath: string;
}

export interface ReportOutput {
  charts: ReportChart[];
  html: string;
  markdown: string;
  /** Inputs the conventions call wrong (several rows, no single headline), said rather than guessed around. */
  warnings: string[];
}

export const paperTargetOf: TargetOf = (method, dataset, metric) => paperTarget(method.split("-")[0], dataset)?.metrics[metric];

/** Test metrics of training runs as result rows, so runs compare in the same chart as results. */
function runRows(runs: readonly RunReport[]): ResultRow[] {
  return runs.flatMap((r, index) =>
    r.test ? [{ method: `${r.model} (${basename(r.dir)})`, dataset: r.dataset, protocol: "full-ranking", metrics: r.test.metrics, file: "run dirs", index }] : [],
  );
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? "—" : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(4);
}

interface Table {
  caption: string;
  head: string[];
  rows: string[][];
}

function headlineTables(headlines: readonly ResultRow[], metrics: readonly string[], target: TargetOf): Table[] {
  const tables: Table[] = [];
  const quality = qualityRows(headlines, metrics);
  if (quality.length) {
    tables.push({
      caption: "Quality, full ranking (headline rows)",
      head: ["method", "dataset", "seeds", ...metrics.flatMap((m) => [m, `paper ${m}`]), "file"],
      rows: [...quality]
        .sort((a, b) => a.dataset.localeCompare(b.dataset) || a.method.localeCompare(b.method))
        .map((r) => [r.method, r.dataset, String(r.seeds ?? 1), ...metrics.flatMap((m) => [fmt(r.metrics[m]) + (r.metrics_std?.[m] !== undefined ? ` ± ${fmt(r.metrics_std[m])}` : ""), fmt(target(r.method, r.dataset, m))]), r.file]),
    });
  }
  const lat = latencyRows(headlines);
  if (lat.length) {
    const keys = [...new Set(lat.flatMap((r) => Object.keys(r.metrics)))];
    tables.push({
      caption: "Latency and throughput (headline rows)",
      head: ["method", "dataset", "protocol", "variant", ...keys, "file"],
      rows: lat.map((r) => [r.method, r.dataset, r.protocol, variantText(r) || "—", ...keys.map((k) => fmt(r.metrics[k])), r.file]),
    });
  }
  return tables;
}

function htmlTable(t: Table): string {
  return `<table><caption>${esc(t.caption)}</caption><thead><tr>${t.head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

function mdTable(t: Table): string {
  const cell = (c: string) => c.replace(/\|/g, "\\|");
  return [`**${t.caption}**`, "", `| ${t.head.map(cell).join(" | ")} |`, `|${t.head.map(() => "---").join("|")}|`, ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

export async function writeReport(inputs: readonly string[], options: ReportOptions): Promise<ReportOutput> {
  const { runs, results } = readReportInputs(inputs);
  const metrics = options.metrics ?? QUALITY_METRICS;
  const target = options.target ?? paperTargetOf;
  const rows = results.flatMap((f) => f.rows);
  const { rows: headlines, unresolved } = headlineRows(rows);
  const warnings = unresolved.map(
    (u) => `${u.key}: ${u.rows.length} rows (${[...new Set(u.rows.map((r) => r.file))].join(", ")}), ${u.marked} marked "headline": true; exactly one must be. Shown in the variants chart only.`,
  );

  const specs: { name: string; title: string; spec: ChartSpec }[] = [];
  if (qualityRows(headlines, metrics).length) specs.push({ name: "quality", title: "Quality by method and dataset (headline rows, beside the paper)", spec: qualityHeadlineSpec(headlines, target, metrics) });
  if (qualityRows(rows, metrics).length > qualityRows(headlines, metrics).length) {
    specs.push({ name: "quality-variants", title: "Every quality row: seeds, dropouts, averagings, implementations", spec: qualityVariantsSpec(rows, headlines, target, metrics) });
  }
  if (latencyRows(headlines).length) specs.push({ name: "latency", title: "Latency and throughput", spec: latencySpec(headlines) });
  const fromRuns = runRows(runs);
  if (qualityRows(fromRuns, metrics).length) specs.push({ name: "runs", title: "Training runs: test metrics", spec: qualityHeadlineSpec(fromRuns, target, metrics) });
  runs.forEach((r, i) => {
    const title = `${r.model} on ${r.dataset} (${basename(r.dir)})`;
    specs.push({ name: `training-${i + 1}-${basename(r.dir).replace(/[^\w.-]+/g, "_")}`, title: `Training curves: ${title}`, spec: trainingCurvesSpec({ title, validations: r.validations, selectMetric: r.config.selectMetric, bestStep: r.best?.step }) });
  });

  const charts: (ReportChart & { svg: string })[] = [];
  for (const s of specs) {
    const out = await writeChart(join(options.outDir, s.name), s.spec);
    charts.push({ name: s.name, title: s.title, svgPath: out.svgPath, pngPath: out.pngPath, svg: out.svg });
  }

  const title = options.title ?? "reclm report";
  const tables = headlineTables(headlines, metrics, target);
  const sources = [...results.map((f) => `${f.path}: ${f.benchmark}${f.command ? ` — \`${f.command}\`` : ""}${f.machine ? ` (${f.machine}, ${f.date ?? "no date"})` : ""}`), ...runs.map((r) => `${r.dir}: ${r.model} on ${r.dataset}`)];

  const html = [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>`,
    "<style>body{font:15px/1.45 system-ui,sans-serif;max-width:1200px;margin:2rem auto;padding:0 1rem;color:#1b1f24}img{max-width:100%;border:1px solid #dde}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccd;padding:.25rem .5rem;font-size:.9rem}caption{text-align:left;font-weight:600;padding:.3rem 0}.warn{background:#fff6e0;border:1px solid #f0c36d;padding:.5rem 1rem}code{font-size:.85rem}</style>",
    `</head><body><h1>${esc(title)}</h1>`,
    warnings.length ? `<div class="warn"><p>Rows without a single headline (see ../shared/conventions/bench-results.md):</p><ul>${warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></div>` : "",
    ...tables.map(htmlTable),
    // Each chart as a data: URI image: self-contained, and the SVGs' internal ids cannot collide as inline SVGs would.
    ...charts.map((c) => `<figure><figcaption><h2>${esc(c.title)}</h2></figcaption><img alt="${esc(c.title)}" src="data:image/svg+xml;base64,${Buffer.from(c.svg).toString("base64")}"></figure>`),
    `<h2>Sources</h2><ul>${sources.map((s) => `<li><code>${esc(s)}</code></li>`).join("")}</ul>`,
    "</body></html>",
  ].join("\n");
  const markdown = [
    `# ${title}`,
    "",
    ...(warnings.length ? ["Rows without a single headline (see ../shared/conventions/bench-results.md):", "", ...warnings.map((w) => `- ${w}`), ""] : []),
    ...tables.flatMap((t) => [mdTable(t), ""]),
    ...charts.flatMap((c) => [`## ${c.title}`, "", `![${c.title}](${relative(options.outDir, c.pngPath)}) ([SVG](${relative(options.outDir, c.svgPath)}))`, ""]),
    "## Sources",
    "",
    ...sources.map((s) => `- ${s}`),
    "",
  ].join("\n");
  const htmlPath = writeFileAtomic(join(options.outDir, "report.html"), html);
  const mdPath = writeFileAtomic(join(options.outDir, "report.md"), markdown);
  return { charts: charts.map(({ svg: _svg, ...c }) => c), html: htmlPath, markdown: mdPath, warnings };
}
