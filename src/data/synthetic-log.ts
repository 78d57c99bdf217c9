/**
 * Seeded synthetic interaction logs in the custom CSV/JSONL format (`user,item,timestamp`), for the scale benchmark
 * (bench/data-scale.ts: 1M, 10M, 50M rows) and for tests that need a log with the awkward cases of real ones.
 *
 * The model of a log:
 * - users 1..U, each with a length drawn uniformly from [minPerUser, maxPerUser] (20-200 by default);
 * - items drawn from a Zipf law over `items` ids (P(rank r) ∝ 1 / r^zipf), so a few items are very popular and a long
 *   tail is rare (the k-core then removes part of the tail);
 * - per user, timestamps that start at a random day and advance by a random gap, which is 0 with probability
 *   `tieProb`: equal timestamps, so the protocols' tie rule decides the order;
 * - with probability `repeatProb` a row is written twice in a row (LRURec's "immediate repeats");
 * - rows written in blocks of `blockUsers` users, shuffled within a block, so the file is not grouped by user (file
 *   order matters to the `lrurec` repeat filter and to the tie rank's set order).
 * Item ids are integers (`itemIdStyle: "int"`, spread out and not in popularity order) or strings ("sku-<base36>").
 * The file is streamed out, so a 50M-row log needs a few MB of memory to write.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { ReclmError } from "../errors.ts";
import { writeFileAtomicWith } from "../io.ts";
import { Rng } from "../rng.ts";

export interface SyntheticLogOptions {
  users: number;
  items: number;
  seed?: number;
  minPerUser?: number;
  maxPerUser?: number;
  /** Zipf exponent of item popularity (default 1.0). */
  zipf?: number;
  /** Probability that a timestamp equals the user's previous one (default 0.05). */
  tieProb?: number;
  /** Probability that a row is written twice in a row (default 0.01). */
  repeatProb?: number;
  itemIdStyle?: "int" | "string";
  /** "unix" seconds (default) or ISO 8601 dates-times. */
  timeStyle?: "unix" | "iso";
  format?: "csv" | "jsonl";
  /** Users per shuffled block of rows (default 1000). */
  blockUsers?: number;
}

export interface SyntheticLogInfo {
  rows: number;
  users: number;
  bytes: number;
}

/** The raw item id written for popularity rank r (0-based). Spread and scrambled, so id order is not popularity. */
function itemId(rank: number, n: number, style: "int" | "string"): string {
  const v = permuteRank(rank, n);
  return style === "int" ? String(1000 + v * 3) : `sku-${v.toString(36)}`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A bijection of 0..n-1: r -> (r·m + 7) mod n with m coprime to n. */
function permuteRank(r: number, n: number): number {
  let m = 2654435761 % n || 1;
  while (gcd(m, n) !== 1) m++;
  return Number((BigInt(r) * BigInt(m) + 7n) % BigInt(n));
}

/** Cumulative Zipf weights over ranks 0..n-1, normalised to end at 1. */
function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let r = 0; r < n; r++) {
    acc += 1 / Math.pow(r + 1, s);
    cdf[r] = acc;
  }
  for (let r = 0; r < n; r++) cdf[r] /= acc;
  return cdf;
}

function drawRank(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Writes the log to `path`, atomically (a temp file renamed when complete: a generation killed half-way must not leave
 * a short log that a later run takes for the whole one); returns how many rows it wrote.
 */
export function writeSyntheticLog(path: string, options: SyntheticLogOptions): SyntheticLogInfo {
  const o = {
    seed: 1,
    minPerUser: 20,
    maxPerUser: 200,
    zipf: 1.0,
    tieProb: 0.05,
    repeatProb: 0.01,
    itemIdStyle: "int" as const,
    timeStyle: "unix" as const,
    format: "csv" as const,
    blockUsers: 1000,
    ...options,
  };
  for (const k of ["users", "items", "minPerUser", "maxPerUser", "blockUsers"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${k} must be a positive integer, got ${o[k]}`, { field: k });
  }
  if (o.maxPerUser < o.minPerUser) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "maxPerUser must be >= minPerUser", { field: "maxPerUser" });
  const rng = new Rng(o.seed);
  const cdf = zipfCdf(o.items, o.zipf);
  const ids = new Map<number, string>();
  const idOf = (rank: number) => {
    let s = ids.get(rank);
    if (s === undefined) ids.set(rank, (s = itemId(rank, o.items, o.itemIdStyle)));
    return s;
  };
  const time = (t: number) => (o.timeStyle === "iso" ? new Date(t * 1000).toISOString().replace(".000Z", "Z") : String(t));
  const line =
    o.format === "csv"
      ? (u: number, item: string, t: number) => `${u},${item},${time(t)}\n`
      : (u: number, item: string, t: number) => `${JSON.stringify({ user: String(u), item, timestamp: o.timeStyle === "iso" ? time(t) : t })}\n`;

  let rows = 0;
  let bytes = 0;
  writeFileAtomicWith(path, (tmp) => {
    const fd = openSync(tmp, "w");
    const write = (s: string) => {
      const buf = Buffer.from(s, "utf8");
      writeSync(fd, buf);
      bytes += buf.length;
    };
    try {
      if (o.format === "csv") write("user,item,timestamp\n");
      for (let first = 1; first <= o.users; first += o.blockUsers) {
        const block: string[] = [];
        for (let u = first; u < Math.min(o.users + 1, first + o.blockUsers); u++) {
          const n = rng.int(o.minPerUser, o.maxPerUser + 1);
          let t = 946_684_800 + rng.int(0, 20 * 365) * 86_400;
          for (let k = 0; k < n; k++) {
            if (k > 0 && rng.next() >= o.tieProb) t += rng.int(1, 7 * 86_400);
            const row = line(u, idOf(drawRank(cdf, rng.next())), t);
            const twice = rng.next() < o.repeatProb;
            block.push(twice ? row + row : row);
            rows += twice ? 2 : 1;
          }
        }
        rng.shuffle(block);
        write(block.join(""));
      }
    } finally {
      closeSync(fd);
    }
  });
  return { rows, users: o.users, bytes };
}
