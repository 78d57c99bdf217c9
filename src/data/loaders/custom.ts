/**
 * The user's own data. Interactions: CSV (.csv), TSV (.tsv/.tab) or JSON lines (.jsonl/.ndjson), optionally .gz,
 * with a user, an item and a timestamp column under any of the aliases below. Timestamps: unix seconds (number or
 * numeric string) or ISO dates (zone-less taken as UTC). Items (optional): same formats, an id column, a title
 * column (title/name), an optional text column (text/description); every other column becomes an attribute.
 * Items absent from the items file (or all items, without one) get their raw id as title; an items file that shares
 * no id with the interactions is refused, and the number of untitled items is carried to `reclm data stats`.
 */
import { extname } from "node:path";
import { ReclmError } from "../../errors.ts";
import type { UntitledItems } from "../../contracts.ts";
import { RawLogBuilder, type RawData, type RawItemMeta } from "../raw.ts";
import { expectColumns, parseCsv } from "./csv.ts";
import { describe, fieldError, idValue, nonEmptyLines, number, readText, rowError, timestamp } from "./text.ts";

export const ALIASES = {
  user: ["user", "user_id", "userId", "userid", "uid"],
  item: ["item", "item_id", "itemId", "itemid", "movieId", "movie_id", "sid", "asin", "product_id"],
  timestamp: ["timestamp", "time", "ts", "date", "datetime"],
  rating: ["rating", "score"],
  id: ["id", "item", "item_id", "itemId", "itemid", "movieId", "movie_id", "sid", "asin", "product_id"],
  title: ["title", "name"],
  text: ["text", "description"],
} as const;

export type CustomRecord = { line: number; get(col: string): unknown; columns: string[] };

export type LogFormat = "csv" | "tsv" | "jsonl" | "parquet";

export function formatOf(file: string): LogFormat {
  const ext = extname(file.replace(/\.gz$/, "")).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  if (ext === ".parquet" && !file.endsWith(".gz")) return "parquet";
  throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot tell the format from the extension "${ext}" (use .csv, .tsv, .jsonl, optionally .gz, or .parquet)`, { file });
}

/** A CSV/TSV data row as a record of the header's columns (the field count checked). */
export function csvRecord(fields: string[], line: number, header: string[], file: string): CustomRecord {
  expectColumns({ line, fields }, header.length, file);
  return { line, columns: header, get: (c: string) => { const k = header.indexOf(c); return k < 0 ? undefined : fields[k]; } };
}

/** One JSON line as a record; malformed JSON or a non-object is an error at its line. */
export function jsonRecord(text: string, line: number, file: string): CustomRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw rowError(`malformed JSON line: ${(e as Error).message}`, { file, line });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw rowError(`expected a JSON object, got ${describe(v)}`, { file, line });
  const obj = v as Record<string, unknown>;
  return { line, columns: Object.keys(obj), get: (c) => (Object.hasOwn(obj, c) ? obj[c] : undefined) };
}

/** Reads records of a CSV/TSV (header row) or JSONL file with their line numbers. */
function readRecords(file: string): { columns: string[]; records: CustomRecord[] } {
  const format = formatOf(file);
  if (format === "parquet") throw new ReclmError("RECLM_ERR_BAD_CONFIG", "an items file must be CSV, TSV or JSONL", { file });
  const text = readText(file, "utf8");
  if (format === "jsonl") {
    const records: CustomRecord[] = [];
    const columns = new Set<string>();
    for (const { line, text: t } of nonEmptyLines(text)) {
      const r = jsonRecord(t, line, file);
      r.columns.forEach((k) => columns.add(k));
      records.push(r);
    }
    if (records.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "no records", { file });
    return { columns: [...columns], records };
  }
  const rows = parseCsv(text, file, format === "tsv" ? "\t" : ",");
  const header = csvHeader(rows[0].fields, rows[0].line, file);
  const records = rows.slice(1).map((row) => csvRecord(row.fields, row.line, header, file));
  if (records.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "header but no rows", { file });
  return { columns: header, records };
}

/** Header names, trimmed; a name given twice is an error. */
export function csvHeader(fields: string[], line: number, file: string): string[] {
  const header = fields.map((s) => s.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new ReclmError("RECLM_ERR_BAD_HEADER", `duplicate column "${h}" in the header`, { file, line, field: h });
    seen.add(h);
  }
  return header;
}

export function pick(columns: readonly string[], aliases: readonly string[], file: string, what: string, required: boolean): string | undefined {
  const found = aliases.filter((a) => columns.includes(a));
  if (found.length > 1) {
    throw new ReclmError("RECLM_ERR_BAD_HEADER", `ambiguous ${what} column: ${found.join(", ")} are all present`, { file, field: found[0] });
  }
  if (found.length === 0 && required) {
    const hint = columns.length === 1 && /[\t;|,]/.test(columns[0]) ? " (is the delimiter right?)" : "";
    throw new ReclmError(
      "RECLM_ERR_BAD_HEADER",
      `no ${what} column (accepted names: ${aliases.join(", ")}); found ${JSON.stringify(columns)}${hint}`,
      { file, line: 1, field: what },
    );
  }
  return found[0];
}

export function loadCustomItems(file: string): Map<string, RawItemMeta> {
  const { columns, records } = readRecords(file);
  const idCol = pick(columns, ALIASES.id, file, "item id", true)!;
  const titleCol = pick(columns, ALIASES.title, file, "title", true)!;
  const textCol = pick(columns, ALIASES.text, file, "text", false);
  const items = new Map<string, RawItemMeta>();
  for (const r of records) {
    const id = idValue(r.get(idCol), { file, line: r.line, field: idCol });
    if (items.has(id)) throw fieldError(`duplicate item id ${JSON.stringify(id)}`, { file, line: r.line, field: idCol });
    const title = r.get(titleCol);
    if (title !== undefined && title !== null && typeof title !== "string") {
      throw fieldError(`expected a string, got ${describe(title)}`, { file, line: r.line, field: titleCol });
    }
    const meta: RawItemMeta = {};
    if (typeof title === "string" && title.trim()) meta.title = title.trim().replace(/[\t\r\n]+/g, " ");
    const text = textCol ? r.get(textCol) : undefined;
    if (typeof text === "string" && text.trim()) meta.text = text.trim();
    const attributes: Record<string, string | string[]> = {};
    for (const c of r.columns) {
      if (c === idCol || c === titleCol || c === textCol) continue;
      const v = r.get(c);
      if (typeof v === "string" && v.length) attributes[c] = v;
      else if (typeof v === "number" || typeof v === "boolean") attributes[c] = String(v);
      else if (Array.isArray(v)) attributes[c] = v.map((x) => (typeof x === "string" ? x : JSON.stringify(x)));
    }
    if (Object.keys(attributes).length) meta.attributes = attributes;
    items.set(id, meta);
  }
  return items;
}

/** The interaction columns of a log: which header name holds the user, item, timestamp and (optional) rating. */
export interface LogColumns {
  user: string;
  item: string;
  timestamp: string;
  rating?: string;
}

export function logColumns(columns: readonly string[], file: string): LogColumns {
  return {
    user: pick(columns, ALIASES.user, file, "user", true)!,
    item: pick(columns, ALIASES.item, file, "item", true)!,
    timestamp: pick(columns, ALIASES.timestamp, file, "timestamp", true)!,
    rating: pick(columns, ALIASES.rating, file, "rating", false),
  };
}

/** One interaction: ids as their canonical strings, time in unix seconds; a bad field is an error at its line. */
export function interactionOf(r: CustomRecord, c: LogColumns, file: string): { user: string; item: string; time: number; rating?: number } {
  const w = { file, line: r.line };
  const rating = c.rating === undefined ? undefined : r.get(c.rating);
  return {
    user: idValue(r.get(c.user), { ...w, field: c.user }),
    item: idValue(r.get(c.item), { ...w, field: c.item }),
    time: timestamp(r.get(c.timestamp), { ...w, field: c.timestamp }),
    rating:
      rating === undefined || rating === "" || rating === null
        ? undefined
        : typeof rating === "number" ? rating : number(String(rating), { ...w, field: c.rating }),
  };
}

/**
 * The whole log read in JavaScript (the reference semantics of every field): what reclm falls back to for a small
 * file DuckDB's reader refuses, so the error names the exact line and field, or the file loads as it always did.
 */
export function loadCustom(interactionsFile: string, itemsFile?: string): RawData {
  const items = itemsFile ? loadCustomItems(itemsFile) : new Map<string, RawItemMeta>();
  const { columns, records } = readRecords(interactionsFile);
  const file = interactionsFile;
  const cols = logColumns(columns, file);
  const log = new RawLogBuilder(cols.rating !== undefined);
  for (const r of records) {
    const x = interactionOf(r, cols, file);
    log.push(x.user, x.item, x.time, x.rating);
  }
  const built = log.build();
  if (!itemsFile) return { log: built, items };
  return { log: built, items, untitled: checkItemIds(built.itemIds, items, interactionsFile, itemsFile) };
}

const EXAMPLES = 3;

/**
 * An items file that shares no id with the interactions is almost always one id written two ways ("001" vs "1",
 * "sku-1" vs "1"): every item would silently fall back to its raw id as title (or, under llamarec, every row be
 * dropped). Some ids missing is plausible (a partial catalogue export), so that is only counted for `data stats`.
 */
function checkItemIds(ids: readonly string[], items: Map<string, RawItemMeta>, interactionsFile: string, itemsFile: string): UntitledItems | undefined {
  const untitled = ids.filter((id) => !items.get(id)?.title);
  return itemIdReport(
    { count: ids.length, known: ids.filter((id) => items.has(id)).length, untitled: untitled.length, firstIds: ids.slice(0, EXAMPLES), firstUntitled: untitled.slice(0, EXAMPLES) },
    items,
    interactionsFile,
    itemsFile,
  );
}

/** How the interactions' distinct item ids meet the items file (ids in first-appearance order). */
export interface ItemIdStats {
  count: number;
  /** Ids present in the items file. */
  known: number;
  /** Ids without a title there (absent or blank). */
  untitled: number;
  firstIds: string[];
  firstUntitled: string[];
}

/** Refuses an items file that shares no id with the interactions; counts the untitled ones. */
export function itemIdReport(stats: ItemIdStats, items: ReadonlyMap<string, RawItemMeta>, interactionsFile: string, itemsFile: string): UntitledItems | undefined {
  const quote = (xs: Iterable<string>) => Array.from(xs).slice(0, EXAMPLES).map((x) => JSON.stringify(x)).join(", ");
  if (stats.known === 0) {
    throw new ReclmError(
      "RECLM_ERR_BAD_DATASET",
      `none of the ${stats.count} item ids of ${interactionsFile} is in the items file (interactions: ${quote(stats.firstIds)}; ` +
        `items file: ${quote(items.keys())}); are the ids written the same way in both files?`,
      { file: itemsFile },
    );
  }
  return stats.untitled > 0 ? { count: stats.untitled, examples: stats.firstUntitled.slice(0, EXAMPLES) } : undefined;
}
