/**
 * Vega-Lite specs to SVG, headless (vega's "none" renderer, no canvas): the one place reclm draws charts.
 * SVG only: it is text, diffs well, opens in any browser, and needs no native module.
 */
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

/** Renders and writes atomically (a reader never sees half a chart). Returns the path. */
export async function writeSvg(path: string, spec: ChartSpec): Promise<string> {
  return writeFileAtomic(path, await renderSvg(spec));
}
