/**
 * Dataset "custom": your own log through DuckDB, under a protocol (loaders/log-files.ts, prepare.ts), or a split a
 * cluster already prepared with the published SQL and wrote as Parquet (`--split-dir`), read as it is.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { Duck, quoteString, type DuckOptions } from "./duck/connection.ts";
import { checkFits } from "./duck/memory.ts";
import { loadCustomItems } from "./loaders/custom.ts";
import { itemIdsAgainstLog, readLogFile } from "./loaders/log-files.ts";
import { addCanonicalRank, prepareSplit, readOutSplit, type ReadOutOptions } from "./prepare.ts";
import type { SqlProtocol } from "./protocols/sql.ts";
import type { RawItemMeta } from "./raw.ts";

type EntryOptions = Omit<ReadOutOptions, "items" | "untitled" | "source">;

export async function prepareCustomLog(
  interactions: string,
  itemsFile: string | undefined,
  opts: EntryOptions & { sql: SqlProtocol },
  duckOptions: DuckOptions = {},
): Promise<SequenceDataset> {
  const items = itemsFile ? loadCustomItems(itemsFile) : new Map<string, RawItemMeta>();
  const duck = await Duck.open(duckOptions);
  try {
    opts.onStage?.(`read ${interactions}`);
    await readLogFile(duck, interactions);
    const untitled = itemsFile ? await itemIdsAgainstLog(duck, items, interactions, itemsFile) : undefined;
    return await prepareSplit(duck, { ...opts, items, untitled, source: interactions });
  } finally {
    duck.close();
  }
}

/** The Parquet files of a split directory (Spark writes part-*.parquet, sometimes in subfolders), sorted. */
export function splitFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "split directory not found", { file: dir });
  if (!statSync(dir).isDirectory()) throw new ReclmError("RECLM_ERR_BAD_CONFIG", "--split-dir takes a directory of Parquet files", { file: dir });
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith(".") || e.name.startsWith("_")) continue;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith(".parquet")) out.push(join(d, e.name));
    }
  };
  walk(dir);
  if (out.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "no .parquet file in the split directory", { file: dir });
  return out.sort((a, b) => (relative(dir, a) < relative(dir, b) ? -1 : 1));
}

/**
 * A split written by split.sql on a cluster: rows (user_id, item_id, pos[, n, ts, protocol]), pos = 1..n per user in
 * order, pos n the test item. Checked (ids present, positions 1..n without gaps, >= 3 per user), numbered
 * canonically, read out like a split reclm made. The protocol is the split's `protocol` column when it has one.
 */
export async function prepareParquetSplit(
  dir: string,
  itemsFile: string | undefined,
  opts: Omit<EntryOptions, "protocol"> & { protocol?: string },
  duckOptions: DuckOptions = {},
): Promise<SequenceDataset> {
  const files = splitFiles(dir);
  const items = itemsFile ? loadCustomItems(itemsFile) : new Map<string, RawItemMeta>();
  const duck = await Duck.open(duckOptions);
  try {
    opts.onStage?.(`read ${dir}`);
    const reader = `read_parquet([${files.map(quoteString).join(", ")}], union_by_name = true)`;
    const rows = Number(await duck.value(`SELECT COALESCE(SUM(num_rows), 0) FROM parquet_file_metadata([${files.map(quoteString).join(", ")}])`, dir));
    checkFits(dir, { rows }, duck.memoryLimit, `${rows} rows`);
    const columns = new Set((await duck.rows(`DESCRIBE SELECT * FROM ${reader}`, dir)).map((r) => String(r.column_name)));
    for (const c of ["user_id", "item_id", "pos"]) {
      if (!columns.has(c)) {
        throw new ReclmError("RECLM_ERR_BAD_HEADER", `the split has no "${c}" column (split.sql writes user_id, item_id, ts, pos, n, protocol); found ${JSON.stringify([...columns])}`, { file: dir, field: c });
      }
    }
    const protocolSql = columns.has("protocol") ? "CAST(protocol AS VARCHAR)" : "CAST(NULL AS VARCHAR)";
    await duck.run(
      `CREATE TABLE split AS SELECT nullif(trim(CAST(user_id AS VARCHAR)), '') AS user_id, nullif(trim(CAST(item_id AS VARCHAR)), '') AS item_id, ` +
        `TRY_CAST(pos AS BIGINT) AS pos, ${protocolSql} AS protocol FROM ${reader}`,
      dir,
    );
    const [bad] = await duck.rows("SELECT COUNT(*) FILTER (WHERE user_id IS NULL) AS users, COUNT(*) FILTER (WHERE item_id IS NULL) AS items, COUNT(*) FILTER (WHERE pos IS NULL) AS pos FROM split");
    for (const [field, n] of Object.entries(bad)) {
      if (Number(n) > 0) throw new ReclmError("RECLM_ERR_BAD_FIELD", `${n} rows of the split have no ${field === "pos" ? "integer pos" : `${field.slice(0, -1)}_id`}`, { file: dir, field: field === "pos" ? "pos" : `${field.slice(0, -1)}_id` });
    }
    await duck.run("CREATE TABLE split_users AS SELECT user_id, COUNT(*) AS n, MIN(pos) AS lo, MAX(pos) AS hi, COUNT(DISTINCT pos) AS distinct_pos FROM split GROUP BY user_id");
    const broken = await duck.rows("SELECT user_id, n, lo, hi, distinct_pos FROM split_users WHERE n < 3 OR lo <> 1 OR hi <> n OR distinct_pos <> n ORDER BY user_id LIMIT 1");
    if (broken.length) {
      const b = broken[0];
      throw new ReclmError(
        "RECLM_ERR_BAD_DATASET",
        `user ${JSON.stringify(b.user_id)} has ${b.n} rows at positions ${b.lo}..${b.hi} (${b.distinct_pos} distinct): each user needs >= 3 rows at positions 1..n`,
        { file: dir, field: "pos" },
      );
    }
    const protocols = (await duck.rows("SELECT DISTINCT protocol FROM split")).map((r) => r.protocol);
    if (protocols.length > 1) throw new ReclmError("RECLM_ERR_BAD_DATASET", `the split mixes protocols ${JSON.stringify(protocols)}`, { file: dir, field: "protocol" });
    const written = protocols[0] === null || protocols[0] === undefined ? undefined : String(protocols[0]);
    if (opts.protocol !== undefined && written !== undefined && opts.protocol !== written) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `the split was made by protocol "${written}", not "${opts.protocol}"`, { file: dir, field: "protocol" });
    }
    const protocol = opts.protocol ?? written;
    if (protocol === undefined) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", "the split has no protocol column: say which protocol made it with --protocol", { file: dir, field: "protocol" });
    }
    await duck.run("CREATE TABLE split_items AS SELECT DISTINCT item_id FROM split");
    await addCanonicalRank(duck, "split_users", "user_id", "u", 0);
    await addCanonicalRank(duck, "split_items", "item_id", "dense", 1);
    const nUsers = Number(await duck.value("SELECT COUNT(*) FROM split_users"));
    let untitled;
    if (itemsFile) {
      await duck.run("CREATE VIEW interactions AS SELECT rowid AS row_id, user_id, item_id FROM split");
      untitled = await itemIdsAgainstLog(duck, items, dir, itemsFile);
      await duck.run("DROP VIEW interactions");
    }
    await duck.run(
      "CREATE TABLE split_dense AS SELECT u.u AS user_id, i.dense AS item_id, s.pos FROM split s " +
        "JOIN split_users u ON u.user_id = s.user_id JOIN split_items i ON i.item_id = s.item_id; DROP TABLE split; ALTER TABLE split_dense RENAME TO split",
      dir,
    );
    return await readOutSplit(duck, { ...opts, protocol, items, untitled, source: dir }, nUsers);
  } finally {
    duck.close();
  }
}
