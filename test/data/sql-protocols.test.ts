/**
 * The published protocol SQL (src/data/protocols/sql) run the way a cluster would run it: plain DuckDB, the files' text
 * statement by statement, the llamarec round repeated by a loop of its own, no reclm code; the `split` table written
 * as Parquet and read back with `splitDir` gives the split reclm prepares itself. And a split that is not one
 * (gaps in the positions, missing columns, another protocol) is refused.
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset, splitFingerprint } from "../../src/data/index.ts";
import { writeSyntheticLog } from "../../src/data/synthetic-log.ts";

const SQL = join(import.meta.dirname, "..", "..", "src", "data", "protocols", "sql");
const dir = mkdtempSync(join(tmpdir(), "reclm-sql-"));
const log = join(dir, "log.csv");
const items = join(dir, "items.csv");
let db: DuckDBInstance;
let c: DuckDBConnection;

/** The statements of a file, and its @loop block apart. */
function statements(file: string): { before: string[]; loop: string[] } {
  const text = readFileSync(join(SQL, file), "utf8");
  const [before, loop = ""] = text.split(/^-- @loop begin$/m);
  const split = (t: string) => t.replace(/^--.*$/gm, "").split(/;\s*$/m).map((s) => s.trim()).filter(Boolean);
  return { before: split(before), loop: split(loop.split(/^-- @loop end$/m)[0]) };
}

async function runFile(file: string): Promise<number> {
  const { before, loop } = statements(file);
  for (const s of before) await c.run(s);
  let rounds = 0;
  let last = -1;
  while (loop.length) {
    for (const s of loop.slice(0, -1)) await c.run(s);
    const n = Number((await c.runAndReadAll(loop[loop.length - 1])).getRows()[0][0]);
    rounds++;
    if (n === last) break;
    last = n;
  }
  return rounds;
}

/** Prepares `protocol` with the SQL files only and writes `split` as Parquet into a fresh directory. */
async function clusterSplit(protocol: string): Promise<string> {
  await c.run(`CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv('${log}', all_varchar = true)`);
  await c.run(`CREATE OR REPLACE VIEW interactions AS SELECT rowid AS row_id, "user" AS user_id, item AS item_id, CAST("timestamp" AS DOUBLE) AS ts FROM raw`);
  await c.run(`CREATE OR REPLACE TABLE titled_items AS SELECT id AS item_id FROM read_csv('${items}', all_varchar = true) WHERE trim(coalesce(title, '')) <> ''`);
  const rounds = await runFile(`${protocol}.sql`);
  if (protocol === "llamarec") expect(rounds).toBeGreaterThan(1);
  await c.run("CREATE OR REPLACE TABLE tie_rank AS SELECT item_id, DENSE_RANK() OVER (ORDER BY item_id) AS tie FROM (SELECT DISTINCT item_id FROM kept) t");
  await runFile("split.sql");
  const out = join(dir, `split-${protocol}`);
  mkdirSync(out, { recursive: true });
  await c.run(`COPY split TO '${join(out, "part-00000.parquet")}' (FORMAT parquet)`);
  return out;
}

beforeAll(async () => {
  // String ids: under them reclm's tie order is the canonical one, which the DENSE_RANK above reproduces.
  writeSyntheticLog(log, { users: 150, items: 200, seed: 21, tieProb: 0.3, repeatProb: 0.05, itemIdStyle: "string", minPerUser: 4, maxPerUser: 40 });
  const ids = new Set(readFileSync(log, "utf8").split("\n").slice(1).filter(Boolean).map((l) => l.split(",")[1]));
  writeFileSync(items, ["id,title", ...[...ids].map((id, k) => `${id},${k % 9 === 0 ? "" : `Title ${id}`}`)].join("\n") + "\n");
  db = await DuckDBInstance.create(":memory:", { threads: "1" });
  c = await db.connect();
});
afterAll(() => {
  c?.closeSync();
  db?.closeSync();
});

describe("the published SQL, run outside reclm, gives reclm's split", () => {
  it.each(["lrurec", "llamarec", "none"])("%s", async (protocol) => {
    const splitDir = await clusterSplit(protocol);
    const cacheDir = join(dir, "cache");
    const here = await loadDataset("custom", { interactions: log, items, protocol, cacheDir, refresh: true });
    const there = await loadDataset("custom", { splitDir, items, cacheDir, refresh: true });
    expect(there.protocol).toBe(protocol);
    expect(splitFingerprint(there)).toBe(splitFingerprint(here));
    expect(there.catalog).toEqual(here.catalog);
    // Untitled items are counted over what each reads: every logged item here, the split's items there.
    expect(there.untitledItems?.count ?? 0).toBeLessThanOrEqual(here.untitledItems?.count ?? 0);
  });
});

describe("a split directory that is not a split is refused", () => {
  async function writeSplit(name: string, select: string): Promise<string> {
    const out = join(dir, name);
    mkdirSync(out, { recursive: true });
    await c.run(`COPY (${select}) TO '${join(out, "part-0.parquet")}' (FORMAT parquet)`);
    return out;
  }
  const rows = "SELECT * FROM (VALUES ('u1', 'a', 1, 'none'), ('u1', 'b', 2, 'none'), ('u1', 'c', 3, 'none')) t(user_id, item_id, pos, protocol)";

  it("reads a well-formed one", async () => {
    const ds = await loadDataset("custom", { splitDir: await writeSplit("ok", rows), cacheDir: join(dir, "c2"), refresh: true });
    expect([...ds.train[0], ds.val[0], ds.test[0]]).toEqual([1, 2, 3]);
  });
  it("a gap in a user's positions", async () => {
    const splitDir = await writeSplit("gap", `${rows} UNION ALL SELECT 'u1', 'd', 5, 'none'`);
    await expect(loadDataset("custom", { splitDir, cacheDir: join(dir, "c2"), refresh: true })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_DATASET", location: { field: "pos" } });
  });
  it("a missing column", async () => {
    const splitDir = await writeSplit("nocol", "SELECT user_id, item_id FROM (VALUES ('u1', 'a')) t(user_id, item_id)");
    await expect(loadDataset("custom", { splitDir, cacheDir: join(dir, "c2"), refresh: true })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_HEADER", location: { field: "pos" } });
  });
  it("another protocol than the one asked for", async () => {
    const splitDir = await writeSplit("proto", rows);
    await expect(loadDataset("custom", { splitDir, protocol: "lrurec", cacheDir: join(dir, "c2"), refresh: true })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
  });
  it("an empty directory", async () => {
    const splitDir = join(dir, "empty");
    mkdirSync(splitDir, { recursive: true });
    await expect(loadDataset("custom", { splitDir, cacheDir: join(dir, "c2"), refresh: true })).rejects.toMatchObject({ code: "RECLM_ERR_FILE_EMPTY" });
  });
});
