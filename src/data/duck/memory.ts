/**
 * How much memory preparing a log may take, and the refusal when a log cannot fit, made BEFORE the work starts (a
 * ReclmError naming the file and the memory it would need), never a V8 "heap out of memory" half-way.
 *
 * The budget is one number, `--memory-limit` (default 80% of the machine's memory, DuckDB's own default). DuckDB
 * gets it as its memory_limit and spills sorts and joins beyond it to disk, so DuckDB's part never crashes the process;
 * what cannot spill is what JavaScript holds afterwards: the prepared split as typed arrays (4 bytes per
 * interaction, plus the read-out buffers) and one string per user and item. Those are estimated from the row count and
 * checked against the budget, and the strings also against V8's heap limit.
 */
import { freemem, totalmem } from "node:os";
import { getHeapStatistics } from "node:v8";
import { ReclmError } from "../../errors.ts";

/** JavaScript bytes per prepared interaction: the Int32 item plus the Int32 user/position read-out buffers. */
export const JS_BYTES_PER_INTERACTION = 12;
/** V8 heap bytes per user: its raw-id string, its train view (a typed-array object) and array slots. */
export const JS_BYTES_PER_USER = 220;
/** V8 heap bytes per catalog item: its ItemInfo object, raw id and title strings. */
export const JS_BYTES_PER_ITEM = 260;
/** DuckDB's working set per interaction row that it cannot spill (hash tables of the k-core's group-bys). */
export const DUCKDB_BYTES_PER_INTERACTION = 24;

const UNITS: Record<string, number> = { b: 1, k: 2 ** 10, kb: 1e3, kib: 2 ** 10, m: 2 ** 20, mb: 1e6, mib: 2 ** 20, g: 2 ** 30, gb: 1e9, gib: 2 ** 30, t: 2 ** 40, tb: 1e12, tib: 2 ** 40 };

/** "4GB", "512MiB", "2g", "1.5 GiB", or plain bytes -> bytes. */
export function parseMemoryLimit(value: string, field = "--memory-limit"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[(m[2] || "b").toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isFinite(bytes) || bytes < 2 ** 20) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a size of at least 1MiB like "4GB" or "512MiB", got "${value}"`, { field });
  }
  return bytes;
}

/** The budget: the value given, else $RECLM_MEMORY_LIMIT, else 80% of the machine's memory. */
export function resolveMemoryLimit(given?: number): number {
  if (given !== undefined) return given;
  const env = process.env.RECLM_MEMORY_LIMIT;
  if (env) return parseMemoryLimit(env, "RECLM_MEMORY_LIMIT");
  return Math.floor(totalmem() * 0.8);
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MiB`;
  return `${Math.ceil(n / 2 ** 10)} KiB`;
}

export interface SizeEstimate {
  rows: number;
  users?: number;
  items?: number;
}

/** Bytes the preparation needs beyond what DuckDB can spill, for a log of this size. */
export function bytesNeeded(size: SizeEstimate): { total: number; heap: number } {
  const heap = (size.users ?? 0) * JS_BYTES_PER_USER + (size.items ?? 0) * JS_BYTES_PER_ITEM;
  return { total: size.rows * (JS_BYTES_PER_INTERACTION + DUCKDB_BYTES_PER_INTERACTION) + heap, heap };
}

/**
 * Refuses a log that cannot be prepared within `limit`: the non-spillable part over the budget, or its strings over
 * V8's heap. `what` says how the size is known ("about 52,000,000 rows estimated from its first 1 MiB").
 */
export function checkFits(file: string, size: SizeEstimate, limit: number, what: string): void {
  const need = bytesNeeded(size);
  const heapLimit = getHeapStatistics().heap_size_limit;
  const advice = "raise --memory-limit if the machine has more memory (it has " + `${formatBytes(totalmem())}, ${formatBytes(freemem())} free), ` +
    "or prepare the split on a cluster with the protocol's SQL (src/data/protocols/sql) and read it with --split-dir";
  if (need.total > limit) {
    throw new ReclmError(
      "RECLM_ERR_OUT_OF_MEMORY",
      `the log holds ${what}; preparing it needs about ${formatBytes(need.total)}, more than the memory limit of ${formatBytes(limit)}: ${advice}`,
      { file },
    );
  }
  if (need.heap > heapLimit * 0.7) {
    throw new ReclmError(
      "RECLM_ERR_OUT_OF_MEMORY",
      `the log holds ${what}; its user and item ids need about ${formatBytes(need.heap)} of JavaScript heap, more than Node's heap limit of ` +
        `${formatBytes(heapLimit)} allows: run with NODE_OPTIONS=--max-old-space-size=<MiB>, or ${advice}`,
      { file },
    );
  }
}
