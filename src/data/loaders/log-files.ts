/**
 * Your own interaction log read by DuckDB: CSV (.csv), TSV (.tsv/.tab), JSON lines (.jsonl/.ndjson/.json), each
 * optionally .gz, or Parquet (.parquet), into the `interactions(row_id, user_id, item_id, ts)` relation the protocol
 * SQL reads, in file order. The column aliases and the meaning of every field are the ones of custom.ts (ids trimmed,
 * integer JSON numbers as decimal strings; timestamps in unix seconds or ISO 8601, zone-less as UTC), written as SQL
 * so a 50M-row log is parsed and checked by DuckDB's parallel readers.
 *
 * A bad field: DuckDB finds the first bad row; its line is found by scanning the file up to that record, and the
 * record is checked again by custom.ts so the error reads as it always did (file, line, field). A file DuckDB's reader
 * refuses (a wrong column count, broken quoting or UTF-8, malformed JSON): a small file is read by custom.ts, which
 * names the line or, when it finds the file well-formed after all (whitespace-only lines), loads it; a big one gets
 * DuckDB's message with the line it names.
 */
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from "node:fs";
import { constants as zlibConstants, createGunzip, gunzipSync } from "node:zlib";
import type { UntitledItems } from "../../contracts.ts";
import { ReclmError } from "../../errors.ts";
import type { Duck } from "../duck/connection.ts";
import { quoteIdent, quoteString } from "../duck/connection.ts";
import { checkFits, formatBytes } from "../duck/memory.ts";
import { appendRawLog } from "../prepare.ts";
import type { RawData, RawItemMeta } from "../raw.ts";
import { parseCsv } from "./csv.ts";
import {
  csvHeader,
  csvRecord,
  formatOf,
  interactionOf,
  itemIdReport,
  jsonRecord,
  loadCustom,
  logColumns,
  type LogColumns,
  type LogFormat,
} from "./custom.ts";

/** Logs up to this size fall back to custom.ts when DuckDB's reader refuses them (it holds the whole file). */
export const FALLBACK_MAX_BYTES = 64 * 2 ** 20;

/** What String.prototype.trim removes (an RE2 class): ids and timestamps are trimmed exactly as custom.ts trims them. */
const JS_WHITESPACE = "[\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}]";
const NUM = "[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?";
const ISO = "([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?";

/**
 * SQL macros with custom.ts's field semantics: `reclm_trim`, `reclm_num` (a NUM-shaped string to DOUBLE), and the
 * parts of an ISO 8601 time (`reclm_iso_wall`, `reclm_iso_seconds`; NULL when invalid, as a calendar date or
 * otherwise). DuckDB expands a macro's argument wherever it is used, so their arguments are always plain columns,
 * computed once in the stages of `timeStages` (a regex per use would cost a hundred times more).
 */
export const FIELD_MACROS = [
  // trim(v, chars) with these characters is ten times slower than the regex; most values start and end in printable
  // ASCII and skip even that.
  `CREATE OR REPLACE MACRO reclm_trim(v) AS CASE WHEN ascii(v) BETWEEN 33 AND 126 AND ascii(right(v, 1)) BETWEEN 33 AND 126 THEN v ` +
    `ELSE regexp_replace(v, '^${JS_WHITESPACE}+|${JS_WHITESPACE}+$', '', 'g') END`,
  `CREATE OR REPLACE MACRO reclm_num(v) AS CASE WHEN regexp_full_match(v, '${NUM}') THEN TRY_CAST(v AS DOUBLE) END`,
  // p: the ISO pattern's groups. The wall-clock fields must read back unchanged (2021-02-30 and 24:00 roll over in
  // a cast), as custom.ts checks; fractions keep their first 3 digits and offsets must be valid, as V8's Date.parse.
  `CREATE OR REPLACE MACRO reclm_iso_wall(p) AS TRY_CAST(p.y || '-' || p.mo || '-' || p.d || ' ' || coalesce(nullif(p.h, ''), '00') || ':' || ` +
    `coalesce(nullif(p.mi, ''), '00') || ':' || coalesce(nullif(p.s, ''), '00') AS TIMESTAMP)`,
  `CREATE OR REPLACE MACRO reclm_iso_offset(z) AS CASE WHEN z = '' OR z = 'Z' THEN 0 ` +
    `ELSE (CASE WHEN z[1] = '-' THEN -1 ELSE 1 END) * (TRY_CAST(z[2:3] AS INTEGER) * 60 + TRY_CAST(right(z, 2) AS INTEGER)) END`,
  `CREATE OR REPLACE MACRO reclm_iso_ok(p, w) AS w IS NOT NULL AND year(w) = TRY_CAST(p.y AS INTEGER) AND month(w) = TRY_CAST(p.mo AS INTEGER) ` +
    `AND day(w) = TRY_CAST(p.d AS INTEGER) AND hour(w) = TRY_CAST(coalesce(nullif(p.h, ''), '0') AS INTEGER) ` +
    `AND minute(w) = TRY_CAST(coalesce(nullif(p.mi, ''), '0') AS INTEGER) AND second(w) = TRY_CAST(coalesce(nullif(p.s, ''), '0') AS INTEGER) ` +
    `AND (p.z IN ('', 'Z') OR (TRY_CAST(p.z[2:3] AS INTEGER) <= 23 AND TRY_CAST(right(p.z, 2) AS INTEGER) <= 59))`,
  `CREATE OR REPLACE MACRO reclm_iso_seconds(p, w) AS CASE WHEN reclm_iso_ok(p, w) THEN ` +
    `(epoch_ms(w) + CAST(rpad(coalesce(substr(p.f, 2, 3), ''), 3, '0') AS BIGINT) - reclm_iso_offset(p.z) * 60000) / 1000.0 END`,
];

/** Wraps `from` in one SELECT per stage; each stage's expressions see the columns of the stages before it. */
export function staged(from: string, stages: readonly (readonly string[])[]): string {
  let sql = from;
  for (const cols of stages) if (cols.length) sql = `(SELECT *, ${cols.join(", ")} FROM ${sql})`;
  return sql;
}

/**
 * Stages that turn VARCHAR column `src` into DOUBLE column `out` (unix seconds; NULL when it is neither a number nor
 * a valid ISO 8601 time), each expression evaluated once per row. `num`, when given, is a numeric column used
 * instead where `src` is NULL (a JSON number).
 */
export function timeStages(src: string, out: string, num?: string): string[][] {
  const names = "['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z']";
  return [
    [`reclm_trim(${src}) AS ${out}_s`],
    [`regexp_full_match(${out}_s, '${NUM}') AS ${out}_isnum`],
    [
      `CASE WHEN ${out}_isnum THEN TRY_CAST(${out}_s AS DOUBLE) END AS ${out}_n`,
      `CASE WHEN NOT ${out}_isnum AND regexp_full_match(${out}_s, '${ISO}') THEN regexp_extract(${out}_s, '^${ISO}$', ${names}) END AS ${out}_p`,
    ],
    [`reclm_iso_wall(${out}_p) AS ${out}_w`],
    [`CASE WHEN ${out}_isnum THEN ${out}_n ${num ? `WHEN ${src} IS NULL THEN ${num} ` : ""}ELSE reclm_iso_seconds(${out}_p, ${out}_w) END AS ${out}`],
  ];
}

export interface LogFileResult {
  rows: number;
  /** Set when the file went through custom.ts (DuckDB refused it, custom.ts read it): it is in `interactions` now. */
  viaJavaScript: boolean;
}

/** The first bytes of a file, decompressed when .gz, as text (at most `max` bytes are read). */
function head(file: string, max = 2 ** 20): { text: string; bytesRead: number } {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.min(max, statSync(file).size));
    const n = readSync(fd, buf, 0, buf.length, 0);
    const raw = buf.subarray(0, n);
    if (!file.endsWith(".gz")) return { text: raw.toString("utf8"), bytesRead: n };
    try {
      return { text: gunzipSync(raw, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString("utf8"), bytesRead: n };
    } catch (e) {
      throw new ReclmError("RECLM_ERR_BAD_ENCODING", `not a valid gzip file (${(e as Error).message})`, { file }, { cause: e });
    }
  } finally {
    closeSync(fd);
  }
}

/** Rows a text log holds, estimated from its first MiB (for the memory check before reading it). */
function estimateRows(file: string): number {
  const size = statSync(file).size;
  const { text, bytesRead } = head(file);
  let lines = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lines++;
  if (bytesRead >= size) return lines + 1;
  const textBytesPerFileByte = Buffer.byteLength(text, "utf8") / bytesRead;
  const bytesPerLine = Buffer.byteLength(text, "utf8") / Math.max(1, lines);
  return Math.ceil((size * textBytesPerFileByte) / bytesPerLine);
}

function checkFile(file: string): void {
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "file not found", { file });
  const st = statSync(file);
  if (st.isDirectory()) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "expected a file, found a directory", { file });
  if (st.size === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "file is empty", { file });
}

interface CsvLayout {
  header: string[];
  /** 1-based line of the header. */
  headerLine: number;
  delimiter: string;
}

/** The header of a CSV/TSV log: its first non-blank line (a BOM dropped), parsed as custom.ts parses it. */
function csvLayout(file: string, format: "csv" | "tsv"): CsvLayout {
  const delimiter = format === "tsv" ? "\t" : ",";
  let { text } = head(file, 2 ** 16);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.replace(/\r$/, "").trim().length > 0);
  if (at < 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "file has no content", { file });
  const row = parseCsv(lines[at].replace(/\r$/, ""), file, delimiter)[0];
  return { header: csvHeader(row.fields, at + 1, file), headerLine: at + 1, delimiter };
}

/**
 * The 1-based line where data record `index` (0-based, after the header for CSV/TSV) starts, and its text. Blank
 * lines are skipped; in CSV a line break inside quotes does not end a record. Streams the file: any size works.
 */
export async function locateRecord(file: string, format: "csv" | "tsv" | "jsonl", index: number): Promise<{ line: number; text: string }> {
  const target = format === "jsonl" ? index : index + 1;
  let line = 1;
  let record = -1;
  let start = 1;
  let inQuote = false;
  let current: number[] = [];
  let collecting = false;
  const source = createReadStream(file);
  const stream = file.endsWith(".gz") ? source.pipe(createGunzip()) : source;
  let blank = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (blank && c !== 10 && c !== 13 && c !== 32 && c !== 9) {
          blank = false;
          record++;
          start = line;
          collecting = record === target;
        }
        if (collecting) current.push(c);
        if (format !== "jsonl" && c === 34) inQuote = !inQuote;
        if (c === 10) {
          line++;
          if (!inQuote) {
            if (collecting) return { line: start, text: Buffer.from(current).toString("utf8").replace(/\r?\n$/, "") };
            blank = true;
          }
        }
      }
    }
  } finally {
    source.destroy();
  }
  if (collecting) return { line: start, text: Buffer.from(current).toString("utf8") };
  throw new ReclmError("RECLM_ERR_INTERNAL", `record ${index} not found in the file`, { file });
}

/** SQL for one VARCHAR id column of a text log: trimmed; NULL stands for "absent or empty". */
const idSql = (col: string) => `nullif(reclm_trim(${col}), '')`;

export interface ReadLogOptions {
  /** Refused files up to this size go through custom.ts (default FALLBACK_MAX_BYTES). */
  fallbackMaxBytes?: number;
}

/** Reads `file` into table `log` and the view `interactions`; returns its row count. */
export async function readLogFile(duck: Duck, file: string, options: ReadLogOptions = {}): Promise<LogFileResult> {
  checkFile(file);
  const format = formatOf(file);
  if (format !== "parquet") {
    const rows = estimateRows(file);
    checkFits(file, { rows }, duck.memoryLimit, `about ${rows} rows (estimated from its first ${formatBytes(2 ** 20)})`);
  }
  for (const m of FIELD_MACROS) await duck.run(m);
  // A CSV whose first rows hold plain integer ids and unix times is read on that assumption first (integer ids make the
  // protocol's joins and sorts several times cheaper); a row that breaks it sends the file down the general path.
  let fast = format === "csv" || format === "tsv" ? fastShape(file, format) : undefined;
  for (;;) {
    try {
      if (format === "parquet") await readParquet(duck, file);
      else if (format === "jsonl") await readJsonl(duck, file);
      else await readCsv(duck, file, format, fast);
    } catch (e) {
      if (!(e instanceof ReclmError) || e.code !== "RECLM_ERR_BAD_DATASET" || format === "parquet") throw e;
      return fallback(duck, file, format, e, options.fallbackMaxBytes ?? FALLBACK_MAX_BYTES);
    }
    const bad = await duck.value("SELECT MIN(rowid) FROM log WHERE NOT ok");
    if (bad === null) break;
    if (fast) {
      fast = undefined;
      continue;
    }
    const rows = Number(await duck.value("SELECT COUNT(*) FROM log"));
    if (rows > 0) await reportBadRecord(duck, file, format, Number(bad));
    break;
  }
  const rows = Number(await duck.value("SELECT COUNT(*) FROM log"));
  if (rows === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", format === "jsonl" ? "no records" : "header but no rows", { file });
  await duck.run("CREATE OR REPLACE VIEW interactions AS SELECT rowid AS row_id, user_id, item_id, ts FROM log");
  return { rows, viaJavaScript: false };
}

/** Which columns of a CSV log its first rows show to hold canonical non-negative integers (ids, unix seconds). */
interface FastShape {
  intUser: boolean;
  intItem: boolean;
  intTime: boolean;
}

/** An id that is its own canonical decimal (so BIGINT and back gives the same string), within BIGINT. */
const CANONICAL_INT = "0|[1-9][0-9]{0,17}";

function fastShape(file: string, format: "csv" | "tsv"): FastShape | undefined {
  const layout = csvLayout(file, format);
  let cols: LogColumns;
  try {
    cols = logColumns(layout.header, file);
  } catch {
    return undefined; // the general path reports the header
  }
  const at = (h: string) => layout.header.indexOf(h);
  const lines = head(file, 2 ** 18).text.split("\n").slice(layout.headerLine, layout.headerLine + 2000);
  if (lines.length > 1) lines.pop(); // cut mid-line
  const int = new RegExp(`^(${CANONICAL_INT})$`);
  const shape = { intUser: true, intItem: true, intTime: true };
  let seen = 0;
  for (const raw of lines) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    if (line.includes('"')) return undefined;
    const f = line.split(layout.delimiter);
    shape.intUser &&= int.test(f[at(cols.user)] ?? "");
    shape.intItem &&= int.test(f[at(cols.item)] ?? "");
    shape.intTime &&= int.test(f[at(cols.timestamp)] ?? "");
    seen++;
  }
  return seen > 0 && (shape.intUser || shape.intItem || shape.intTime) ? shape : undefined;
}

async function readCsv(duck: Duck, file: string, format: "csv" | "tsv", fast?: FastShape): Promise<void> {
  const layout = csvLayout(file, format);
  const cols = logColumns(layout.header, file);
  const name = (h: string) => `c${layout.header.indexOf(h)}`;
  const columns = layout.header.map((_, k) => `'c${k}': 'VARCHAR'`).join(", ");
  // DuckDB's CSV buffer is 16 lines of max_line_size: 2 MiB lines (DuckDB's default) keep it at 32 MiB, where 16 MiB
  // lines asked for 256 MiB and failed any memory limit below that on any file.
  const reader =
    `read_csv(${quoteString(file)}, auto_detect = false, header = true, skip = ${layout.headerLine - 1}, columns = {${columns}}, ` +
    `delim = ${quoteString(layout.delimiter)}, quote = '"', escape = '"', strict_mode = true, ` +
    `force_not_null = [${layout.header.map((_, k) => `'c${k}'`).join(", ")}], max_line_size = 2097152)`;
  const rating = cols.rating ? `(${name(cols.rating)} = '' OR isfinite(reclm_num(reclm_trim(${name(cols.rating)}))))` : "true";
  // The fast shapes take the raw field, untrimmed, as BIGINT when it is that integer's own decimal (a round trip is
  // cheaper than a regex); a value that does not fit sends the file down the general path.
  const [uc, ic, tc] = [name(cols.user), name(cols.item), name(cols.timestamp)];
  const parsed = [
    ...(fast?.intUser ? [`TRY_CAST(${uc} AS BIGINT) AS u_int`] : []),
    ...(fast?.intItem ? [`TRY_CAST(${ic} AS BIGINT) AS i_int`] : []),
    ...(fast?.intTime ? [`TRY_CAST(${tc} AS BIGINT) AS t_int`] : []),
  ];
  const canonical = (int: string, raw: string) => `CASE WHEN CAST(${int} AS VARCHAR) = ${raw} AND ${int} >= 0 THEN ${int} END`;
  const ids = [
    `${fast?.intUser ? canonical("u_int", uc) : idSql(uc)} AS user_id`,
    `${fast?.intItem ? canonical("i_int", ic) : idSql(ic)} AS item_id`,
  ];
  const time = fast?.intTime ? [[`CAST(${canonical("t_int", tc)} AS DOUBLE) AS ts`]] : timeStages(tc, "ts");
  const rows = staged(reader, [parsed, ids, ...time]);
  await duck.run(
    `CREATE OR REPLACE TABLE log AS SELECT user_id, item_id, ts, ` +
      `(user_id IS NOT NULL AND item_id IS NOT NULL AND isfinite(ts) AND ${rating}) IS TRUE AS ok FROM ${rows}`,
    file,
  );
}

/** A JSON value as custom.ts's idValue reads it: strings trimmed, numbers only as safe integers. */
export function jsonIdSql(j: string): string {
  const safe = "9007199254740991";
  return (
    `CASE json_type(${j}) WHEN 'VARCHAR' THEN nullif(reclm_trim(json_extract_string(${j}, '$')), '') ` +
    `WHEN 'UBIGINT' THEN CASE WHEN CAST(${j} AS UBIGINT) <= ${safe} THEN CAST(CAST(${j} AS UBIGINT) AS VARCHAR) END ` +
    `WHEN 'BIGINT' THEN CASE WHEN abs(CAST(${j} AS BIGINT)) <= ${safe} THEN CAST(CAST(${j} AS BIGINT) AS VARCHAR) END ` +
    `WHEN 'DOUBLE' THEN CASE WHEN abs(CAST(${j} AS DOUBLE)) <= ${safe} AND CAST(${j} AS DOUBLE) = trunc(CAST(${j} AS DOUBLE)) ` +
    `THEN CAST(CAST(CAST(${j} AS DOUBLE) AS BIGINT) AS VARCHAR) END END`
  );
}

async function readJsonl(duck: Duck, file: string): Promise<void> {
  const reader = `read_json_objects(${quoteString(file)}, format = 'newline_delimited', maximum_object_size = 16777216)`;
  const keys = (await duck.rows(`SELECT DISTINCT unnest(json_keys(json)) AS k FROM ${reader} WHERE json_type(json) = 'OBJECT'`, file)).map((r) => String(r.k));
  if (keys.length === 0 && Number(await duck.value(`SELECT COUNT(*) FROM ${reader}`, file)) === 0) {
    throw new ReclmError("RECLM_ERR_FILE_EMPTY", "no records", { file });
  }
  const cols = logColumns(keys, file);
  const path = (k: string) => quoteString(`$."${k.replace(/"/g, '\\"')}"`);
  const extract = [`json_type(json) AS j_type`, `json -> ${path(cols.user)} AS j_user`, `json -> ${path(cols.item)} AS j_item`, `json -> ${path(cols.timestamp)} AS j_ts`];
  if (cols.rating) extract.push(`json -> ${path(cols.rating)} AS j_rating`);
  const numeric = "('UBIGINT', 'BIGINT', 'DOUBLE')";
  const typed = [
    `${jsonIdSql("j_user")} AS user_id`,
    `${jsonIdSql("j_item")} AS item_id`,
    `CASE WHEN json_type(j_ts) = 'VARCHAR' THEN json_extract_string(j_ts, '$') END AS j_ts_s`,
    `CASE WHEN json_type(j_ts) IN ${numeric} THEN CAST(j_ts AS DOUBLE) END AS j_ts_n`,
  ];
  let rating = "true";
  if (cols.rating) {
    typed.push(`json_type(j_rating) AS j_rating_t`, `CASE WHEN json_type(j_rating) = 'VARCHAR' THEN json_extract_string(j_rating, '$') END AS j_rating_s`);
    rating = `(j_rating IS NULL OR j_rating_t IN ('NULL', 'UBIGINT', 'BIGINT', 'DOUBLE') OR (j_rating_t = 'VARCHAR' AND (j_rating_s = '' OR isfinite(reclm_num(reclm_trim(j_rating_s))))))`;
  }
  const rows = staged(reader, [extract, typed, ...timeStages("j_ts_s", "ts", "j_ts_n")]);
  await duck.run(
    `CREATE OR REPLACE TABLE log AS SELECT user_id, item_id, ts, ` +
      `(j_type = 'OBJECT' AND user_id IS NOT NULL AND item_id IS NOT NULL AND isfinite(ts) AND ${rating}) IS TRUE AS ok FROM ${rows}`,
    file,
  );
}

async function readParquet(duck: Duck, file: string): Promise<void> {
  const reader = `read_parquet(${quoteString(file)})`;
  const rows = Number(await duck.value(`SELECT COALESCE(SUM(num_rows), 0) FROM parquet_file_metadata(${quoteString(file)})`, file));
  checkFits(file, { rows }, duck.memoryLimit, `${rows} rows`);
  const described = await duck.rows(`DESCRIBE SELECT * FROM ${reader}`, file);
  const types = new Map(described.map((r) => [String(r.column_name), String(r.column_type)]));
  const cols = logColumns([...types.keys()], file);
  const id = (c: string) => {
    const type = types.get(c)!;
    if (type === "VARCHAR") return idSql(quoteIdent(c));
    if (/^U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?$/.test(type)) return `CAST(${quoteIdent(c)} AS VARCHAR)`;
    throw new ReclmError("RECLM_ERR_BAD_FIELD", `an id column must hold strings or integers, found ${type}`, { file, field: c });
  };
  const tsType = types.get(cols.timestamp)!;
  const tc = quoteIdent(cols.timestamp);
  const time = tsType === "VARCHAR"
    ? "ts_text"
    : /^(TIMESTAMP|DATE)/.test(tsType)
      ? `epoch_us(CAST(${tc} AS TIMESTAMP)) / 1e6`
      : /INT|DOUBLE|FLOAT|DECIMAL/.test(tsType)
        ? `CAST(${tc} AS DOUBLE)`
        : undefined;
  if (time === undefined) throw new ReclmError("RECLM_ERR_BAD_FIELD", `a timestamp column must hold numbers, dates or strings, found ${tsType}`, { file, field: cols.timestamp });
  const stages = [[`${id(cols.user)} AS user_id`, `${id(cols.item)} AS item_id`], ...(tsType === "VARCHAR" ? timeStages(tc, "ts_text") : [])];
  await duck.run(
    `CREATE OR REPLACE TABLE log AS SELECT user_id, item_id, ${time} AS ts, (user_id IS NOT NULL AND item_id IS NOT NULL AND isfinite(${time})) IS TRUE AS ok ` +
      `FROM ${staged(reader, stages)}`,
    file,
  );
}

/**
 * The first bad row, as custom.ts reports it: its line is found, the record re-read and checked field by field. A
 * Parquet row has no line: its row number is given.
 */
async function reportBadRecord(duck: Duck, file: string, format: LogFormat, row: number): Promise<never> {
  if (format === "parquet") {
    const r = (await duck.rows(`SELECT user_id, item_id, ts FROM log WHERE rowid = ${row}`))[0];
    const field = r.user_id === null ? "user" : r.item_id === null ? "item" : "timestamp";
    throw new ReclmError("RECLM_ERR_BAD_FIELD", `row ${row + 1} of the Parquet file has no valid ${field} (an empty id, or a missing or non-finite time)`, { file, field });
  }
  const { line, text } = await locateRecord(file, format, row);
  let cols: LogColumns;
  if (format === "jsonl") {
    const keys = (await duck.rows(`SELECT DISTINCT unnest(json_keys(json)) AS k FROM read_json_objects(${quoteString(file)}, format = 'newline_delimited') WHERE json_type(json) = 'OBJECT'`)).map((r) => String(r.k));
    cols = logColumns(keys, file);
    interactionOf(jsonRecord(text, line, file), cols, file);
  } else {
    const layout = csvLayout(file, format);
    cols = logColumns(layout.header, file);
    const parsed = parseCsv(text, file, layout.delimiter)[0];
    interactionOf(csvRecord(parsed?.fields ?? [""], line, layout.header, file), cols, file);
  }
  // custom.ts took the record: the two readers disagree on it. Say where, rather than load a row one of them refuses.
  throw new ReclmError("RECLM_ERR_BAD_ROW", `this record could not be read (its fields did not parse in DuckDB: ${JSON.stringify(text.slice(0, 200))})`, { file, line });
}

/** DuckDB refused the file: custom.ts reads a small one (its error, or its rows); a big one gets DuckDB's error. */
async function fallback(duck: Duck, file: string, format: LogFormat, duckError: ReclmError, maxBytes: number): Promise<LogFileResult> {
  if (statSync(file).size > maxBytes || format === "parquet") {
    const m = /(?:on Line|in line|line)[: ]+(\d+)/i.exec(duckError.message);
    throw new ReclmError("RECLM_ERR_BAD_ROW", duckError.message.replace(/^.*?DuckDB could not read the file: /, ""), { file, ...(m ? { line: Number(m[1]) } : {}) }, { cause: duckError });
  }
  const raw: RawData = loadCustom(file);
  await appendRawLog(duck, raw.log);
  return { rows: raw.log.length, viaJavaScript: true };
}

/**
 * The items file against the log's item ids (in the `interactions` relation): refuses an items file that shares
 * no id with the log, counts the items it leaves untitled.
 */
export async function itemIdsAgainstLog(duck: Duck, items: ReadonlyMap<string, RawItemMeta>, interactionsFile: string, itemsFile: string): Promise<UntitledItems | undefined> {
  const known: string[] = [];
  const titled: string[] = [];
  for (const [id, m] of items) {
    known.push(id);
    if (m.title) titled.push(id);
  }
  await duck.createTable("items_known", { item_id: known });
  await duck.createTable("items_titled", { item_id: titled });
  await duck.run(
    "CREATE OR REPLACE TABLE log_items AS SELECT item_id, first_row, item_id IN (SELECT item_id FROM items_known) AS known, " +
      "item_id IN (SELECT item_id FROM items_titled) AS titled FROM (SELECT CAST(item_id AS VARCHAR) AS item_id, MIN(row_id) AS first_row FROM interactions GROUP BY 1)",
  );
  const [s] = await duck.rows("SELECT COUNT(*) AS count, COUNT(*) FILTER (WHERE known) AS known, COUNT(*) FILTER (WHERE NOT titled) AS untitled FROM log_items");
  const firstIds = await duck.strings("SELECT item_id FROM log_items ORDER BY first_row LIMIT 3");
  const firstUntitled = await duck.strings("SELECT item_id FROM log_items WHERE NOT titled ORDER BY first_row LIMIT 3");
  await duck.run("DROP TABLE log_items; DROP TABLE items_known; DROP TABLE items_titled");
  return itemIdReport({ count: Number(s.count), known: Number(s.known), untitled: Number(s.untitled), firstIds, firstUntitled }, items, interactionsFile, itemsFile);
}
