/**
 * Amazon 2014 raw files as LlamaRec reads them: a ratings CSV without header (user,item,rating,timestamp) and a
 * metadata file with one PYTHON-literal dict per line (read by the original with eval), optionally gzipped.
 * An item's title is its 'title' stripped (LlamaRec keeps only non-empty ones); categories and brand become
 * attributes, description becomes text.
 */
import { RawLogBuilder, type RawData, type RawItemMeta } from "../raw.ts";
import { expectColumns, parseCsv } from "./csv.ts";
import { PyLiteralError, parsePyLiteral, type PyValue } from "./pyliteral.ts";
import { describe, fieldError, nonEmptyLines, number, readText, rowError } from "./text.ts";

export function loadAmazonRatings(file: string): RawLogBuilder {
  const log = new RawLogBuilder(true);
  for (const row of parseCsv(readText(file, "utf8"), file)) {
    expectColumns(row, 4, file);
    const w = { file, line: row.line };
    const [user, item] = row.fields.map((s) => s.trim());
    if (!user) throw fieldError("empty user id", { ...w, field: "user" });
    if (!item) throw fieldError("empty item id", { ...w, field: "item" });
    log.push(user, item, number(row.fields[3], { ...w, field: "timestamp" }), number(row.fields[2], { ...w, field: "rating" }));
  }
  return log;
}

/** Parses one literal line; errors name the file, line and column. */
export function parseLiteralLine(text: string, file: string, line: number): PyValue {
  try {
    return parsePyLiteral(text);
  } catch (e) {
    if (e instanceof PyLiteralError) throw rowError(`malformed Python/JSON literal: ${e.message}`, { file, line });
    throw e;
  }
}

export function asDict(v: PyValue, file: string, line: number): Record<string, PyValue> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw rowError(`expected a dict, got ${describe(v)}`, { file, line });
  return v;
}

function strings(v: PyValue | undefined): string[] {
  if (typeof v === "string") return v.trim() ? [v.trim()] : [];
  if (Array.isArray(v)) return v.flatMap((x) => strings(x));
  return [];
}

export function loadAmazonMeta(file: string): Map<string, RawItemMeta> {
  const items = new Map<string, RawItemMeta>();
  for (const { line, text } of nonEmptyLines(readText(file, "utf8"))) {
    const d = asDict(parseLiteralLine(text, file, line), file, line);
    const asin = d.asin;
    if (typeof asin !== "string" || asin.trim() === "") throw fieldError(`expected a non-empty string, got ${describe(asin ?? null)}`, { file, line, field: "asin" });
    const meta: RawItemMeta = {};
    if (d.title !== undefined && d.title !== null) {
      if (typeof d.title !== "string") throw fieldError(`expected a string, got ${describe(d.title)}`, { file, line, field: "title" });
      const t = d.title.trim();
      if (t) meta.title = t;
    }
    const attributes: Record<string, string | string[]> = {};
    const categories = [...new Set(strings(d.categories ?? d.category))];
    if (categories.length) attributes.categories = categories;
    if (typeof d.brand === "string" && d.brand.trim()) attributes.brand = d.brand.trim();
    if (Object.keys(attributes).length) meta.attributes = attributes;
    const desc = strings(d.description).join(" ");
    if (desc) meta.text = desc;
    items.set(asin.trim(), meta);
  }
  return items;
}

export function loadAmazonRaw(ratingsFile: string, metaFile: string): RawData {
  const items = loadAmazonMeta(metaFile);
  return { log: loadAmazonRatings(ratingsFile).build(), items };
}
