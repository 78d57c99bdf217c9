/**
 * Data preparation on DuckDB, one path for every dataset: an `interactions(row_id, user_id, item_id, ts)` relation
 * (read by DuckDB from CSV/TSV/JSONL/Parquet, or appended from a loader's RawLog) goes through the published protocol
 * SQL (protocols/sql/*.sql, loops driven from here), then reclm numbers users and items canonically, ranks ties, runs
 * the published leave-one-out (split.sql), and reads the split out chunk by chunk into one Int32Array plus per-user
 * offsets (packed.ts).
 *
 * What TypeScript does: the iterative k-core's loop, CPython's set order for the tie rank (python-set-order.ts), the
 * catalog from the item metadata, the canonical order in the rare case DuckDB's byte order differs from UTF-16's,
 * and the memory check before the read-out. Everything that scales with interactions runs in DuckDB.
 */
import type { LongWorkOptions, SequenceDataset, UntitledItems } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { Duck, quoteIdent, quoteString, type DuckOptions } from "./duck/connection.ts";
import { checkFits } from "./duck/memory.ts";
import { datasetFromPacked, offsetsFromCounts } from "./packed.ts";
import { canonicalSort } from "./protocols/canonical.ts";
import { buildCatalog, type TitleOf } from "./protocols/catalog.ts";
import { pythonIntSetOrder } from "./protocols/python-set-order.ts";
import { readScript, runScript, type SqlProtocol } from "./protocols/sql.ts";
import type { RawData, RawItemMeta, RawLog } from "./raw.ts";

/** What reading a split out needs: names, the catalog's metadata, where errors point. */
export interface ReadOutOptions extends LongWorkOptions {
  /** Dataset name the split carries. */
  name: string;
  /** Protocol name the split carries (usually the SQL protocol's; "embedded" for the synthetic dataset). */
  protocol: string;
  /** Titles for the catalog (the dataset's cleaner); default: the raw title, else the raw id. */
  title?: TitleOf;
  /** Item metadata by raw id (titles also decide llamarec's title filter). */
  items: ReadonlyMap<string, RawItemMeta>;
  untitled?: UntitledItems;
  /** The interactions file, named in errors. */
  source?: string;
  /** Called as stages start, for progress bars. */
  onStage?: (stage: string) => void;
}

export interface PrepareOptions extends ReadOutOptions {
  /** Which published SQL file filters the rows. */
  sql: SqlProtocol;
}

/** A plain integer pandas reads as one exact int: no leading zeros, below 2^53 (see python-set-order.ts). */
const PLAIN_INTEGER_RE = "0|[1-9][0-9]{0,14}";

/**
 * Runs a protocol and the split over the `interactions` relation already in `duck`; returns the dataset. The tables
 * it creates (kept, split, split_users, split_items, tie_rank) stay in `duck` until it is closed.
 */
export async function prepareSplit(duck: Duck, opts: PrepareOptions): Promise<SequenceDataset> {
  const file = opts.source;
  const stage = (s: string) => {
    opts.signal?.throwIfAborted();
    opts.onStage?.(s);
  };
  stage(`${opts.protocol} protocol`);
  if (opts.sql === "llamarec") {
    await duck.createTable("titled_items", { item_id: titledIds(opts.items) });
    // A log read with integer item ids (loaders/log-files.ts) is matched on the ids that read as those integers.
    if ((await columnType(duck, "interactions", "item_id")) === "BIGINT") {
      await duck.run(
        "CREATE OR REPLACE TABLE titled_items AS SELECT CAST(item_id AS BIGINT) AS item_id FROM titled_items " +
          "WHERE regexp_full_match(item_id, '0|[1-9][0-9]{0,17}')",
      );
    }
  }
  await runScript(duck, readScript(opts.sql), { file, signal: opts.signal });

  stage("leave-one-out split");
  await duck.run("CREATE OR REPLACE TABLE split_users AS SELECT user_id, COUNT(*) AS n FROM kept GROUP BY user_id HAVING COUNT(*) >= 3", file);
  const nUsers = Number(await duck.value("SELECT COUNT(*) FROM split_users"));
  if (nUsers === 0) throw await noUserLeft(duck, opts);
  // From here on only `kept` is read: free the log (DuckDB holds its memory otherwise until it closes).
  const kind = await duck.rows("SELECT table_type FROM information_schema.tables WHERE table_name = 'interactions'");
  await duck.run(`DROP ${kind[0]?.table_type === "VIEW" ? "VIEW" : "TABLE"} IF EXISTS interactions; DROP TABLE IF EXISTS log`);
  await duck.run("CREATE OR REPLACE TABLE split_items AS SELECT DISTINCT item_id FROM kept WHERE user_id IN (SELECT user_id FROM split_users)", file);
  await addCanonicalRank(duck, "split_users", "user_id", "u", 0);
  await addCanonicalRank(duck, "split_items", "item_id", "dense", 1);
  await tieRank(duck, opts);
  // split.sql only compares ids: run it on the dense numbers (the users of split_users: others would be dropped
  // there anyway), so it sorts integers and the read-out needs no join.
  await duck.run(
    "CREATE OR REPLACE TABLE kept_dense AS SELECT k.row_id, u.u AS user_id, i.dense AS item_id, k.ts, k.protocol FROM kept k " +
      "JOIN split_users u ON u.user_id = k.user_id JOIN split_items i ON i.item_id = k.item_id; " +
      "CREATE OR REPLACE TABLE tie_rank_dense AS SELECT i.dense AS item_id, t.tie FROM tie_rank t JOIN split_items i ON i.item_id = t.item_id; " +
      "DROP TABLE kept; DROP TABLE tie_rank; ALTER TABLE kept_dense RENAME TO kept; ALTER TABLE tie_rank_dense RENAME TO tie_rank",
    file,
  );
  await runScript(duck, readScript("split"), { file, signal: opts.signal });
  await duck.run("DROP TABLE kept; DROP TABLE tie_rank");
  return readOutSplit(duck, opts, nUsers);
}

/**
 * Reads the `split` table out into the packed layout: its user_id and item_id hold the dense numbers (the `u` and
 * `dense` columns of split_users / split_items, which map them back to raw ids), pos the 1-based position.
 */
export async function readOutSplit(duck: Duck, opts: ReadOutOptions, nUsers: number): Promise<SequenceDataset> {
  const file = opts.source;
  opts.signal?.throwIfAborted();
  opts.onStage?.("load the split");
  const total = Number(await duck.value("SELECT COUNT(*) FROM split"));
  const nItems = Number(await duck.value("SELECT COUNT(*) FROM split_items"));
  checkFits(file ?? opts.name, { rows: total, users: nUsers, items: nItems }, duck.memoryLimit, `${total} interactions of ${nUsers} users over ${nItems} items after the protocol`);
  const counts = Int32Array.from(await duck.numbers("SELECT n FROM split_users ORDER BY u"));
  const offsets = offsetsFromCounts(counts);
  const items = new Int32Array(total);
  // Each row lands at its user's offset + position - 1: a scatter instead of a sort of the whole split.
  await duck.scan(
    "SELECT user_id, pos, item_id FROM split",
    3,
    ([u, pos, item], m) => {
      for (let j = 0; j < m; j++) items[offsets[u[j]] + pos[j] - 1] = item[j];
    },
    file,
  );
  for (let k = 0; k < total; k++) {
    if (items[k] === 0) throw new ReclmError("RECLM_ERR_INTERNAL", `split read-out left slot ${k} empty`);
  }
  const users = await duck.strings("SELECT CAST(user_id AS VARCHAR) FROM split_users ORDER BY u");
  const itemIds = await duck.strings("SELECT CAST(item_id AS VARCHAR) FROM split_items ORDER BY dense");
  const catalog = buildCatalog(itemIds, opts.items, opts.title);
  return datasetFromPacked({ name: opts.name, protocol: opts.protocol, catalog, users, untitledItems: opts.untitled }, { items, offsets });
}

/** Raw ids whose metadata has a non-empty title (LlamaRec drops the rows of every other item). */
function titledIds(items: ReadonlyMap<string, RawItemMeta>): string[] {
  const out: string[] = [];
  for (const [id, m] of items) if (m.title !== undefined && m.title.trim().length > 0) out.push(id);
  return out;
}

/**
 * Adds `out` to `table`: the 0-based rank of `col` in canonical order (protocols/canonical.ts) plus `base`. DuckDB
 * orders strings by UTF-8 bytes, which equals UTF-16 code-unit order unless ids mix characters above U+FFFF with ones
 * in U+E000..U+FFFF; only then are the ids sorted here.
 */
export async function addCanonicalRank(duck: Duck, table: string, col: string, out: string, base: number): Promise<void> {
  const c = quoteIdent(col);
  const integerColumn = (await columnType(duck, table, col)) === "BIGINT"; // canonical non-negative integers: their order is canonical
  const allInteger = integerColumn || (await duck.value(`SELECT COALESCE(bool_and(regexp_full_match(${c}, '[0-9]+')), true) FROM ${table}`));
  let order = c;
  let from = table;
  if (integerColumn) {
    order = c;
  } else if (allInteger === true) {
    order = `length(ltrim(${c}, '0')), ltrim(${c}, '0'), ${c}`;
  } else {
    const split = await duck.value(
      `SELECT COALESCE(bool_or(regexp_matches(${c}, '[\\x{E000}-\\x{FFFF}]')) AND bool_or(regexp_matches(${c}, '[\\x{10000}-\\x{10FFFF}]')), false) FROM ${table}`,
    );
    if (split === true) {
      const sorted = canonicalSort(await duck.strings(`SELECT ${c} FROM ${table}`));
      await duck.createTable(`${table}_order`, { [col]: sorted, k: Int32Array.from(sorted, (_, k) => k) });
      from = `${table} JOIN ${table}_order USING (${c})`;
      order = "k";
    }
  }
  await duck.run(`CREATE OR REPLACE TABLE ${table} AS SELECT ${table}.*, CAST(ROW_NUMBER() OVER (ORDER BY ${order}) - 1 + ${base} AS INTEGER) AS ${out} FROM ${from}`);
}

/**
 * tie_rank(item_id, tie) for split.sql: CPython's set order under lrurec/llamarec when every kept item id is a plain
 * integer (the papers' numbering), else the dense id.
 */
async function tieRank(duck: Duck, opts: PrepareOptions): Promise<void> {
  if (opts.sql !== "none") {
    // The set is filled in row order; a repeated value changes nothing, so each item's first row is all it needs.
    await duck.run(
      "CREATE OR REPLACE TABLE tie_first AS SELECT item_id, CAST(ROW_NUMBER() OVER (ORDER BY first_row) - 1 AS INTEGER) AS k " +
        "FROM (SELECT item_id, MIN(row_id) AS first_row FROM kept GROUP BY item_id)",
    );
    if ((await duck.value(`SELECT COALESCE(bool_and(regexp_full_match(CAST(item_id AS VARCHAR), '${PLAIN_INTEGER_RE}')), true) FROM tie_first`)) === true) {
      const values = await duck.numbers("SELECT CAST(item_id AS BIGINT) FROM tie_first ORDER BY k");
      const rankOf = new Map<number, number>();
      pythonIntSetOrder(values).forEach((v, r) => rankOf.set(v, r + 1));
      await duck.createTable("tie_ranks", { k: Int32Array.from(values, (_, k) => k), tie: Int32Array.from(values, (v) => rankOf.get(v)!) });
      await duck.run("CREATE OR REPLACE TABLE tie_rank AS SELECT f.item_id, r.tie FROM tie_first f JOIN tie_ranks r ON r.k = f.k");
      return;
    }
  }
  await duck.run("CREATE OR REPLACE TABLE tie_rank AS SELECT item_id, dense AS tie FROM split_items");
}

/** The DuckDB type of a column ("VARCHAR", "BIGINT", ...). */
export async function columnType(duck: Duck, table: string, col: string): Promise<string> {
  return String(await duck.value(`SELECT data_type FROM information_schema.columns WHERE table_name = ${quoteString(table)} AND column_name = ${quoteString(col)}`));
}

async function noUserLeft(duck: Duck, opts: PrepareOptions): Promise<ReclmError> {
  let untitled = "";
  if (opts.sql === "llamarec") {
    // Untitled items emptying the data usually means ids that do not match the items file: say how much it took.
    const dropped = Number(await duck.value("SELECT COUNT(*) FROM interactions WHERE item_id NOT IN (SELECT item_id FROM titled_items)"));
    const all = Number(await duck.value("SELECT COUNT(*) FROM interactions"));
    if (dropped > 0) untitled = `; dropping items without a title removed ${dropped} of ${all} rows before the k-core`;
  }
  const rule =
    opts.sql === "none"
      ? ")"
      : `; this protocol also keeps only users and items with >= 5 interactions (${opts.sql === "lrurec" ? "one pass, after dropping immediate repeats" : "repeated until stable"}); protocol "none" keeps every row)`;
  return new ReclmError(
    "RECLM_ERR_BAD_DATASET",
    `dataset "${opts.name}" has no user left after protocol "${opts.protocol}" (a leave-one-out split needs >= 3 interactions per user${rule}${untitled}`,
    opts.source !== undefined ? { file: opts.source } : {},
  );
}

/** Appends a loader's RawLog as the `interactions` relation (row_id = file order). */
export async function appendRawLog(duck: Duck, log: RawLog): Promise<void> {
  await duck.createTable("raw_codes", {
    row_id: Int32Array.from({ length: log.length }, (_, k) => k),
    u: log.user,
    i: log.item,
    ts: log.time,
  });
  await duck.createTable("raw_users", { u: Int32Array.from(log.userIds, (_, k) => k), user_id: log.userIds });
  await duck.createTable("raw_items", { i: Int32Array.from(log.itemIds, (_, k) => k), item_id: log.itemIds });
  await duck.run(
    "CREATE OR REPLACE TABLE interactions AS SELECT c.row_id, u.user_id, i.item_id, c.ts FROM raw_codes c " +
      "JOIN raw_users u ON u.u = c.u JOIN raw_items i ON i.i = c.i ORDER BY c.row_id",
  );
  await duck.run("DROP TABLE raw_codes; DROP TABLE raw_users; DROP TABLE raw_items");
}

/** A loader's RawData through a protocol on a DuckDB of its own. */
export async function prepareRaw(raw: RawData, opts: Omit<PrepareOptions, "items" | "untitled">, duckOptions: DuckOptions = {}): Promise<SequenceDataset> {
  const duck = await Duck.open(duckOptions);
  try {
    await appendRawLog(duck, raw.log);
    return await prepareSplit(duck, { ...opts, items: raw.items, untitled: raw.untitled });
  } finally {
    duck.close();
  }
}
