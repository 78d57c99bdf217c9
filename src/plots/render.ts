/**
 * Vega-Lite specs to SVG, headless (vega's "none" renderer, no canvas), and SVG to PNG (resvg, a Rust rasterizer
 * with prebuilt binaries): the one place reclm draws charts. SVG is the source (text, diffs well, opens anywhere);
 * PNG is for places that show no SVG (chat, some viewers, markdown previews).
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { writeFileAtomic } from "../io.ts";

export type ChartSpec = TopLevelSpec;

/** Renders a Vega-Lite spec to an SVG document. */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * An SVG document as PNG at `scale` times its size, on white. Text is drawn with the system's fonts (vega asks for
 * sans-serif); a machine without any font gets a chart without text, which is why the SVG stays the source.
 */
export function svgToPng(svg: string, scale = 1.5): Buffer {
  const png = new Resvg(svg, { fitTo: { mode: "zoom", value: scale }, background: "white", font: { loadSystemFonts: true }, logLevel: "off" }).render().asPng();
  return Buffer.from(png);
}

/** Renders and writes atomically (a reader never sees half a chart). Returns the path. */
export async function writeSvg(path: string, spec: ChartSpec): Promise<string> {
  return writeFileAtomic(path, await renderSvg(spec));
}

/** Writes `<base>.svg` and `<base>.png`; returns both paths and the SVG text. */
export async function writeChart(base: string, spec: ChartSpec): Promise<{ svgPath: string; pngPath: string; svg: string }> {
  const svg = await renderSvg(spec);
  return { svg, svgPath: writeFileAtomic(`${base}.svg`, svg), pngPath: writeFileAtomic(`${base}.png`, svgToPng(svg)) };
}
