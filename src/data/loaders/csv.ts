/** CSV/TSV through csv-parse (RFC 4180 quotes, CRLF), with errors turned into ReclmError at file:line. */
import { parse } from "csv-parse/sync";
import { ReclmError } from "../../errors.ts";
import { nonEmptyLines } from "./text.ts";

export interface CsvRow {
  line: number;
  fields: string[];
}

export function parseCsv(text: string, file: string, delimiter = ","): CsvRow[] {
  // Without any quote character RFC 4180 reduces to splitting lines on the delimiter; csv-parse costs ~20 us a
  // row, which makes ML-1M-sized files take tens of seconds, so take the direct route when it is exact.
  if (!text.includes('"')) return splitUnquoted(text, delimiter);
  try {
    const records = parse(text, {
      delimiter,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      bom: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    // A whitespace-only line is one blank field to csv-parse but is skipped on the unquoted route: skip it here too,
    // so whether a file holds a quote somewhere does not change which lines count.
    return records.filter((r) => !(r.record.length === 1 && r.record[0].trim() === "")).map((r) => ({ line: r.info.lines, fields: r.record }));
  } catch (e) {
    const err = e as { message?: string; lines?: number; code?: string };
    throw new ReclmError("RECLM_ERR_BAD_ROW", `malformed CSV: ${err.message ?? String(e)}`, { file, line: err.lines }, { cause: e });
  }
}

function splitUnquoted(text: string, delimiter: string): CsvRow[] {
  const rows: CsvRow[] = [];
  for (const { line, text: t } of nonEmptyLines(text)) rows.push({ line, fields: t.split(delimiter) });
  return rows;
}

/**
 * Checks a header row: names must be unique and include `required` (exact spelling). Returns name -> column.
 * A header that is one long field containing another delimiter points at a wrong delimiter; say so.
 */
export function headerIndex(row: CsvRow | undefined, file: string, required: readonly string[], delimiter = ","): Map<string, number> {
  if (!row) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "file has no header row", { file });
  const index = new Map<string, number>();
  row.fields.forEach((name, col) => {
    const n = name.trim();
    if (index.has(n)) throw new ReclmError("RECLM_ERR_BAD_HEADER", `duplicate column "${n}" in the header`, { file, line: row.line, field: n });
    index.set(n, col);
  });
  for (const r of required) {
    if (!index.has(r)) {
      const hint =
        row.fields.length === 1 && /[\t;|,]/.test(row.fields[0])
          ? ` (the header is a single field: is the delimiter ${JSON.stringify(delimiter)} right?)`
          : "";
      throw new ReclmError(
        "RECLM_ERR_BAD_HEADER",
        `missing column "${r}"; header has ${JSON.stringify(row.fields)}${hint}`,
        { file, line: row.line, field: r },
      );
    }
  }
  return index;
}

export function expectColumns(row: CsvRow, count: number, file: string): void {
  if (row.fields.length !== count) {
    throw new ReclmError(
      "RECLM_ERR_BAD_ROW",
      `expected ${count} columns, found ${row.fields.length}`,
      { file, line: row.line },
    );
  }
}
