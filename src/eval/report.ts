/**
 * Reports: a metrics table (rows = method, columns = Recall/NDCG/MRR @k) as a string, and JSON-able reports.
 * The table is returned, not printed: library code never prints; the CLI and bench writers print it.
 */
import Table from "cli-table3";
import type { Metrics } from "./metrics.ts";

export interface MetricsRow {
  method: string;
  /** Extra leading columns, e.g. { dataset: "ml-1m", protocol: "full-ranking", users: 610 }. */
  labels?: Record<string, string | number>;
  metrics: Metrics;
}

const SHORT: Record<string, string> = { Recall: "R", NDCG: "N", MRR: "M" };

/** Orders metric keys as R@k.., N@k.., M@k.. by k, then any other keys in first-seen order. */
export function orderedMetricKeys(rows: readonly MetricsRow[]): string[] {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.metrics)) if (!keys.includes(k)) keys.push(k);
  const rank = (key: string): [number, number, number] => {
    const m = /^(Recall|NDCG|MRR)@(\d+)$/.exec(key);
    if (!m) return [1, 0, keys.indexOf(key)];
    return [0, ["Recall", "NDCG", "MRR"].indexOf(m[1]), Number(m[2])];
  };
  return keys.sort((a, b) => {
    const [ga, ma, ka] = rank(a);
    const [gb, mb, kb] = rank(b);
    return ga - gb || ma - mb || ka - kb;
  });
}

function header(key: string): string {
  const m = /^(Recall|NDCG|MRR)@(\d+)$/.exec(key);
  return m ? `${SHORT[m[1]]}@${m[2]}` : key;
}

export function formatMetricsTable(rows: readonly MetricsRow[], options: { digits?: number } = {}): string {
  const digits = options.digits ?? 4;
  const labelKeys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.labels ?? {})) if (!labelKeys.includes(k)) labelKeys.push(k);
  const metricKeys = orderedMetricKeys(rows);
  const table = new Table({
    head: ["method", ...labelKeys, ...metricKeys.map(header)],
    style: { head: [], border: [] },
  });
  for (const r of rows) {
    table.push([
      r.method,
      ...labelKeys.map((k) => String(r.labels?.[k] ?? "")),
      ...metricKeys.map((k) => (r.metrics[k] === undefined ? "" : r.metrics[k].toFixed(digits))),
    ]);
  }
  return table.toString();
}

/** A JSON-able copy: typed arrays become plain arrays, so reports round-trip through JSON.stringify/parse. */
export function toJson<T>(report: T): unknown {
  return JSON.parse(
    JSON.stringify(report, (_key, value: unknown) => (ArrayBuffer.isView(value) && !(value instanceof DataView) ? Array.from(value as unknown as ArrayLike<number>) : value)),
  );
}
