/**
 * Prometheus text exposition (format 0.0.4), written here rather than pulled in: histograms, counters and gauges
 * with labels are a few dozen lines. Label sets are bounded by the caller (routes, not URLs; status codes; stages).
 */

export type Labels = Readonly<Record<string, string>>;

/** Seconds: 0.5 ms to 10 s, dense around the service's 20 ms target. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function labelKey(labels: Labels): string {
  return labelText(labels);
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

interface Metric {
  render(): string;
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}

  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(s.labels, ["le", num(b)])} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export class Counter implements Metric {
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const s of this.series.values()) lines.push(`${this.name}${labelText(s.labels)} ${num(s.value)}`);
    return lines.join("\n");
  }
}

/** A value read when scraped (queue depth, memory). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${num(this.read())}`].join("\n");
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }

  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

/** The service's metrics, one set per app. */
export function serviceMetrics(read: { queueDepth: () => number; ready: () => boolean }) {
  const registry = new MetricsRegistry();
  return {
    registry,
    http: registry.add(new Histogram("reclm_http_request_duration_seconds", "Time from request to response, by route (the route pattern, 'unmatched' for unknown URLs), method and status code.")),
    stage: registry.add(new Histogram("reclm_stage_duration_seconds", "Time per recommendation stage: queue (waiting for a forward), retrieve (the retriever's batched forward), rank (the LLM ranker).")),
    batch: registry.add(new Histogram("reclm_batch_size", "Histories scored per retriever forward.", [1, 2, 4, 8, 16, 32, 64, 128, 256])),
    shed: registry.add(new Counter("reclm_shed_total", "Requests refused with 503 by design: queue_full, timeout.")),
    queue: registry.add(new Gauge("reclm_queue_depth", "Histories waiting for a retriever forward.", read.queueDepth)),
    ready: registry.add(new Gauge("reclm_ready", "1 once the models are loaded.", () => (read.ready() ? 1 : 0))),
    rss: registry.add(new Gauge("process_resident_memory_bytes", "Resident memory of the server process.", () => process.memoryUsage.rss())),
  };
}

export type ServiceMetrics = ReturnType<typeof serviceMetrics>;
