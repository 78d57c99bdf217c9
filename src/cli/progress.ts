/**
 * Turns library `onProgress` callbacks into terminal feedback. On a TTY: a cli-progress bar per stage with ETA and
 * live info (loss, metrics). Elsewhere (CI logs, pipes, tests): one plain line every `intervalMs` and at the end of
 * each stage, so logs stay readable instead of filling with carriage returns.
 * Output goes to stderr by default so stdout carries only results (tables, JSON) and can be piped.
 */
import cliProgress from "cli-progress";
import type { Progress } from "../contracts.ts";

export interface ProgressReporter {
  onProgress: (p: Progress) => void;
  /** Ends the current bar/line; call once the work is done or failed. */
  stop: () => void;
}

export interface ProgressReporterOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw bars; defaults to whether the stream is a TTY. */
  tty?: boolean;
  /** Minimum time between plain lines when not a TTY. Defaults to 5000 ms. */
  intervalMs?: number;
  now?: () => number;
}

export function formatInfo(info: Progress["info"]): string {
  if (!info) return "";
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === "number" ? formatNumber(v) : v}`)
    .join(" ");
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
}

export function createProgressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  return tty ? barReporter(stream) : lineReporter(stream, options.intervalMs ?? 5000, options.now ?? Date.now);
}

function barReporter(stream: NodeJS.WritableStream): ProgressReporter {
  let bar: cliProgress.SingleBar | undefined;
  let stage: string | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
    stage = undefined;
  };
  return {
    onProgress(p) {
      if (!bar || p.stage !== stage) {
        stop();
        stage = p.stage;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${p.stage} [{bar}] {percentage}% | {value}/{total} ${p.unit ?? ""} | ETA {eta_formatted} | {info}`,
            hideCursor: true,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.total, 0, { info: "" });
      }
      bar.setTotal(p.total);
      bar.update(p.done, { info: formatInfo(p.info) });
    },
    stop,
  };
}

function lineReporter(stream: NodeJS.WritableStream, intervalMs: number, now: () => number): ProgressReporter {
  let last = -Infinity;
  let pending: Progress | undefined;
  let stageStart = now();
  let stage: string | undefined;
  const write = (p: Progress) => {
    const pct = p.total > 0 ? ` (${Math.floor((100 * p.done) / p.total)}%)` : "";
    const secs = ((now() - stageStart) / 1000).toFixed(1);
    const info = formatInfo(p.info);
    stream.write(`${p.stage}: ${p.done}/${p.total}${p.unit ? ` ${p.unit}` : ""}${pct} ${secs}s${info ? ` ${info}` : ""}\n`);
    last = now();
    pending = undefined;
  };
  const flush = () => {
    if (pending) write(pending);
  };
  return {
    onProgress(p) {
      if (p.stage !== stage) {
        flush();
        stage = p.stage;
        stageStart = now();
        last = -Infinity;
      }
      pending = p;
      if (p.done >= p.total || now() - last >= intervalMs) write(p);
    },
    stop() {
      flush();
      stage = undefined;
    },
  };
}

/** Runs long work with a progress bar (or periodic lines), stopping the bar however the work ends. */
export async function withProgress<T>(work: (onProgress: ProgressReporter["onProgress"]) => Promise<T>, options: ProgressReporterOptions = {}): Promise<T> {
  const progress = createProgressReporter(options);
  try {
    return await work(progress.onProgress);
  } finally {
    progress.stop();
  }
}
