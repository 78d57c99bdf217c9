/**
 * Data preparation at scale (issue 25): seeded synthetic logs of 1M, 10M and 50M interactions in the custom CSV
 * format (src/data/synthetic-log.ts: Zipf items, 20-200 interactions per user, ties and immediate repeats), prepared
 * under protocol lrurec two ways, each in a child process of its own so its peak RSS is its own:
 * - `reclm`: `loadDataset("custom", ...)`, what `reclm data prepare --dataset custom --interactions <log>` runs: the
 *   DuckDB reader with reclm's field checks, the published SQL, canonical ids, CPython's tie order, the read-out into
 *   typed arrays and the cache file;
 * - `duckdb-sql`: plain DuckDB through @duckdb/node-api and no reclm code: read_csv with its own type detection, the
 *   published lrurec.sql and split.sql run as text, ties by DENSE_RANK of the item id, the split left in DuckDB.
 * Metrics: `seconds` (wall), `peak_rss_mib` (the child's VmHWM), `bytes_per_interaction` (RSS after the preparation,
 * after GC, minus the RSS before it, over the interactions kept).
 *
 *   nice -n 19 npx tsx bench/data-scale.ts --sizes 1m,10m,50m --memory-limit 1GiB,50m=4GiB
 * (`--memory-limit` is one size for all, or a default plus size=limit overrides; both methods get the same.)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "1m,10m,50m" },
    "memory-limit": { type: "string", default: "1GiB" },
    threads: { type: "string", default: "2" },
    work: { type: "string", default: "/tmp/reclm-data-scale" },
    child: { type: "string" },
    log: { type: "string" },
    "no-write": { type: "boolean", default: false },
  },
});

const SIZES: Record<string, number> = { "1m": 1_000_000, "10m": 10_000_000, "50m": 50_000_000 };
const MIB = 2 ** 20;

interface ChildResult {
  seconds: number;
  /** user + system CPU of the whole process (DuckDB's threads included): what load on a shared machine moves least. */
  cpuSeconds: number;
  peakRssMib: number;
  residentMib: number;
  baseMib: number;
  interactions: number;
  users: number;
  items: number;
}

function status(key: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function settle(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let k = 0; k < 3; k++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 200));
  }
  return status("VmRSS");
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** The memory limit for a log size: "1GiB" or "1GiB,50m=4GiB". */
function limitFor(size: string): string {
  let limit = "";
  for (const part of args["memory-limit"]!.split(",")) {
    const [k, v] = part.includes("=") ? part.split("=") : ["", part];
    if (k === "" && !limit) limit = v;
    if (k === size) return v;
  }
  return limit;
}

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(KiB|MiB|GiB)$/.exec(s);
  if (!m) throw new Error(`--memory-limit: expected e.g. 1GiB, got ${s}`);
  return Number(m[1]) * { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[m[2] as "KiB"];
}

async function reclmChild(log: string): Promise<ChildResult> {
  // In a child, --memory-limit is the one limit the parent chose for this size.
  const { loadDataset, datasetStats } = await import("../src/data/index.ts");
  const cacheDir = join(args.work!, "cache");
  rmSync(cacheDir, { recursive: true, force: true });
  const base = await settle();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const ds = await loadDataset("custom", { interactions: log, protocol: "lrurec", cacheDir, refresh: true, memoryLimit: parseBytes(args["memory-limit"]!) });
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuSince(cpu0);
  const resident = await settle();
  const st = datasetStats(ds);
  return { seconds, cpuSeconds, peakRssMib: status("VmHWM"), residentMib: resident, baseMib: base, interactions: st.interactions, users: st.users, items: st.items };
}

async function duckdbChild(log: string): Promise<ChildResult> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const base = await settle();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const db = await DuckDBInstance.create(":memory:", { memory_limit: args["memory-limit"]!, threads: args.threads! });
  const c = await db.connect();
  const sqlDir = join(import.meta.dirname, "..", "src", "data", "protocols", "sql");
  const statements = (file: string) =>
    readFileSync(join(sqlDir, file), "utf8")
      .split("\n")
      .filter((l) => !l.startsWith("--"))
      .join("\n")
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter(Boolean);
  await c.run(`CREATE TABLE log AS SELECT * FROM read_csv('${log}')`);
  await c.run(`CREATE VIEW interactions AS SELECT rowid AS row_id, "user" AS user_id, item AS item_id, CAST("timestamp" AS DOUBLE) AS ts FROM log`);
  for (const s of statements("lrurec.sql")) await c.run(s);
  await c.run("CREATE TABLE tie_rank AS SELECT item_id, DENSE_RANK() OVER (ORDER BY item_id) AS tie FROM (SELECT DISTINCT item_id FROM kept) t");
  for (const s of statements("split.sql")) await c.run(s);
  const r = await c.runAndReadAll("SELECT COUNT(*) AS n, COUNT(DISTINCT user_id) AS users, COUNT(DISTINCT item_id) AS items FROM split");
  const [n, users, items] = r.getRows()[0].map(Number);
  await c.run("DROP VIEW interactions; DROP TABLE log; DROP TABLE kept; DROP TABLE tie_rank");
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuSince(cpu0);
  const resident = await settle();
  const out = { seconds, cpuSeconds, peakRssMib: status("VmHWM"), residentMib: resident, baseMib: base, interactions: n, users, items };
  c.closeSync();
  db.closeSync();
  return out;
}

if (args.child) {
  const result = args.child === "reclm" ? await reclmChild(args.log!) : await duckdbChild(args.log!);
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

function runChild(method: string, log: string, limit: string): ChildResult {
  const r = spawnSync(
    process.execPath,
    ["--expose-gc", "--import", "tsx", import.meta.filename, "--child", method, "--log", log, "--memory-limit", limit, "--threads", args.threads!, "--work", args.work!],
    { encoding: "utf8", maxBuffer: 64 * MIB, env: { ...process.env, RECLM_THREADS: args.threads } },
  );
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (r.status !== 0 || !line) throw new Error(`${method} on ${log} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  return JSON.parse(line.slice(7)) as ChildResult;
}

const { writeSyntheticLog } = await import("../src/data/synthetic-log.ts");
mkdirSync(args.work!, { recursive: true });
const rows: BenchRow[] = [];
const inputs: string[] = [];
for (const size of args.sizes!.split(",")) {
  const n = SIZES[size];
  if (!n) throw new Error(`unknown size ${size} (known: ${Object.keys(SIZES).join(", ")})`);
  const log = join(args.work!, `synthetic-${size}.csv`);
  const spec = { users: Math.round(n / 110), items: n / 50, seed: 1 };
  if (!existsSync(log)) {
    const t = performance.now();
    const info = writeSyntheticLog(log, spec);
    console.log(`wrote ${log}: ${info.rows} rows, ${(info.bytes / MIB).toFixed(0)} MiB in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  inputs.push(log);
  const results: Record<string, ChildResult> = {};
  for (const method of ["reclm", "duckdb-sql"]) {
    const r = runChild(method, log, limitFor(size));
    results[method] = r;
    console.log(`${size} ${method}: ${r.seconds.toFixed(1)} s (${r.cpuSeconds.toFixed(1)} s CPU), peak ${r.peakRssMib.toFixed(0)} MiB, ${r.interactions} interactions`);
    rows.push({
      method,
      dataset: `synthetic-${size}`,
      protocol: "prepare",
      metrics: {
        seconds: Number(r.seconds.toFixed(2)),
        cpu_seconds: Number(r.cpuSeconds.toFixed(2)),
        peak_rss_mib: Math.round(r.peakRssMib),
        bytes_per_interaction: Number((((r.residentMib - r.baseMib) * MIB) / r.interactions).toFixed(1)),
        interactions: r.interactions,
        users: r.users,
        items: r.items,
      },
      variant: { "data-protocol": "lrurec", "memory-limit": limitFor(size), threads: Number(args.threads), generator: spec },
      headline: true,
      notes:
        method === "reclm"
          ? `loadDataset("custom", { interactions, protocol: "lrurec", refresh: true }) incl. the cache file`
          : `plain DuckDB, same published SQL, ids typed by read_csv; reclm/duckdb-sql: ${(results["reclm"].seconds / r.seconds).toFixed(2)}x wall, ${(results["reclm"].cpuSeconds / r.cpuSeconds).toFixed(2)}x CPU`,
    });
  }
}
if (!args["no-write"]) {
  writeBenchResult({
    benchmark: "data-scale",
    command: `nice -n 19 npx tsx bench/data-scale.ts --sizes ${args.sizes} --memory-limit ${args["memory-limit"]} --threads ${args.threads}`,
    inputs,
    rows,
  });
}
