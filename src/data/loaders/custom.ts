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

type Record_ = { line: number; get(col: string): unknown; columns: string[] };

function formatOf(file: string): "csv" | "tsv" | "jsonl" {
  const ext = extname(file.replace(/\.gz$/, "")).toLowerCase();
  if (ext === ".csv") return "csv";
  if (ext === ".tsv" || ext === ".tab") return "tsv";
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl";
  throw new ReclmError("RECLM_ERR_BAD_CONFIG", `cannot tell the format from the extension "${ext}" (use .csv, .tsv, .jsonl)`, { file });
}

/** Reads records of a CSV/TSV (header row) or JSONL file with their line numbers. */
function readRecords(file: string): { columns: string[]; records: Record_[] } {
  const format = formatOf(file);
  const text = readText(file, "utf8");
  if (format === "jsonl") {
    const records: Record_[] = [];
    const columns = new Set<string>();
    for (const { line, text: t } of nonEmptyLines(text)) {
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        throw rowError(`malformed JSON line: ${(e as Error).message}`, { file, line });
      }
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw rowError(`expected a JSON object, got ${describe(v)}`, { file, line });
      const obj = v as Record<string, unknown>;
      Object.keys(obj).forEach((k) => columns.add(k));
      records.push({ line, columns: Object.keys(obj), get: (c) => (Object.hasOwn(obj, c) ? obj[c] : undefined) });
    }
    if (records.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "no records", { file });
    return { columns: [...columns], records };
  }
  const rows = parseCsv(text, file, format === "tsv" ? "\t" : ",");
  const header = rows[0].fields.map((s) => s.trim());
  const seen = new Set<string>();
  for (const h of header) {
    if (seen.has(h)) throw new ReclmError("RECLM_ERR_BAD_HEADER", `duplicate column "${h}" in the header`, { file, line: rows[0].line, field: h });
    seen.add(h);
  }
  const records = rows.slice(1).map((row) => {
    expectColumns(row, header.length, file);
    return { line: row.line, columns: header, get: (c: string) => { const k = header.indexOf(c); return k < 0 ? undefined : row.fields[k]; } };
  });
  if (records.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "header but no rows", { file });
  return { columns: header, records };
}

function pick(columns: readonly string[], aliases: readonly string[], file: string, what: string, required: boolean): string | undefined {
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

export function loadCustom(interactionsFile: string, itemsFile?: string): RawData {
  const items = itemsFile ? loadCustomItems(itemsFile) : new Map<string, RawItemMeta>();
  const { columns, records } = readRecords(interactionsFile);
  const file = interactionsFile;
  const uc = pick(columns, ALIASES.user, file, "user", true)!;
  const ic = pick(columns, ALIASES.item, file, "item", true)!;
  const tc = pick(columns, ALIASES.timestamp, file, "timestamp", true)!;
  const rc = pick(columns, ALIASES.rating, file, "rating", false);
  const log = new RawLogBuilder(rc !== undefined);
  for (const r of records) {
    const w = { file, line: r.line };
    const rating = rc === undefined ? undefined : r.get(rc);
    log.push(
      idValue(r.get(uc), { ...w, field: uc }),
      idValue(r.get(ic), { ...w, field: ic }),
      timestamp(r.get(tc), { ...w, field: tc }),
      rating === undefined || rating === "" || rating === null
        ? undefined
        : typeof rating === "number" ? rating : number(String(rating), { ...w, field: rc }),
    );
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
  const quote = (xs: Iterable<string>) => Array.from(xs).slice(0, EXAMPLES).map((x) => JSON.stringify(x)).join(", ");
  if (ids.every((id) => !items.has(id))) {
    throw new ReclmError(
      "RECLM_ERR_BAD_DATASET",
      `none of the ${ids.length} item ids of ${interactionsFile} is in the items file (interactions: ${quote(ids)}; ` +
        `items file: ${quote(items.keys())}); are the ids written the same way in both files?`,
      { file: itemsFile },
    );
  }
  const untitled = ids.filter((id) => !items.get(id)?.title);
  return untitled.length > 0 ? { count: untitled.length, examples: untitled.slice(0, EXAMPLES) } : undefined;
}
