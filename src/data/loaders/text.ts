/**
 * File reading shared by the loaders: existence, emptiness, gzip, encoding checks, line splitting and
 * field parsers that throw ReclmError with the file, the 1-based line and the field.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ReclmError } from "../../errors.ts";

export type TextEncoding = "utf8" | "latin1";

/** Reads a whole text file (gunzipping *.gz), validating UTF-8 strictly when `encoding` is utf8. */
export function readText(file: string, encoding: TextEncoding = "utf8"): string {
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "file not found", { file });
  if (statSync(file).isDirectory()) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "expected a file, found a directory", { file });
  let bytes: Buffer = readFileSync(file);
  if (file.endsWith(".gz")) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new ReclmError("RECLM_ERR_BAD_ENCODING", `not a valid gzip file (${(e as Error).message})`, { file }, { cause: e });
    }
  }
  if (bytes.length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "file is empty", { file });
  let text: string;
  if (encoding === "utf8") {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (e) {
      const { line, offset } = firstInvalidUtf8(bytes);
      throw new ReclmError(
        "RECLM_ERR_BAD_ENCODING",
        `invalid UTF-8 at byte ${offset} (expected UTF-8; a Latin-1 file must be loaded as such)`,
        { file, line },
        { cause: e },
      );
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  } else text = bytes.toString("latin1");
  if (text.trim().length === 0) throw new ReclmError("RECLM_ERR_FILE_EMPTY", "file has no content", { file });
  return text;
}

function firstInvalidUtf8(b: Buffer): { line: number; offset: number } {
  let line = 1;
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c === 0x0a) line++;
    let need = 0;
    if (c < 0x80) need = 0;
    else if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) need = 2;
    else if (c >= 0xf0 && c <= 0xf4) need = 3;
    else return { line, offset: i };
    for (let k = 1; k <= need; k++) {
      if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return { line, offset: i };
    }
    i += need + 1;
  }
  return { line, offset: i };
}

/** Lines with their 1-based numbers; CRLF and LF both end a line; blank lines are skipped. */
export function* nonEmptyLines(text: string): Generator<{ line: number; text: string }> {
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    line++;
    let s = text.slice(start, end);
    if (s.endsWith("\r")) s = s.slice(0, -1);
    if (s.trim().length > 0) yield { line, text: s };
    start = end + 1;
  }
}

export interface Where {
  file: string;
  line?: number;
  field?: string;
}

export function fieldError(message: string, where: Where): ReclmError {
  return new ReclmError("RECLM_ERR_BAD_FIELD", message, where);
}

export function rowError(message: string, where: Where): ReclmError {
  return new ReclmError("RECLM_ERR_BAD_ROW", message, where);
}

const INT = /^[+-]?\d+$/;
const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A raw id that must be an integer (MovieLens ids); returned as its canonical decimal string. */
export function intId(value: string | undefined, where: Where): string {
  const v = (value ?? "").trim();
  if (!INT.test(v)) throw fieldError(`expected an integer id, got ${JSON.stringify(value ?? "")}`, where);
  return String(BigInt(v));
}

export function number(value: string | undefined, where: Where): number {
  const v = (value ?? "").trim();
  if (!NUM.test(v)) throw fieldError(`expected a number, got ${JSON.stringify(value ?? "")}`, where);
  return finite(v, where);
}

/** A numeric string that passed NUM; an exponent out of double range ("1e400") would otherwise pass as Infinity. */
function finite(v: string, where: Where): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw fieldError(`number is not finite (out of range): ${JSON.stringify(v)}`, where);
  return n;
}

/** Dates accepted for timestamps: YYYY-MM-DD, optionally with a time and zone (ISO 8601). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A timestamp as unix seconds: a number is taken as unix seconds; an ISO date/date-time string is parsed
 * (date-only and zone-less values are taken as UTC so results do not depend on the machine's time zone).
 */
export function timestamp(value: unknown, where: Where): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw fieldError(`timestamp is not finite: ${value}`, where);
    return value;
  }
  if (typeof value !== "string") throw fieldError(`expected a timestamp, got ${describe(value)}`, where);
  const v = value.trim();
  if (NUM.test(v)) return finite(v, where);
  const m = ISO_DATE.exec(v);
  if (m) {
    const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone = "Z"] = m;
    const wall = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
    // V8 rolls impossible dates over (2021-02-30 -> March 2, 24:00 -> the next day) instead of rejecting them: the
    // wall-clock fields, read back as UTC, must be exactly the ones written.
    const check = new Date(`${wall}Z`);
    const same =
      !Number.isNaN(check.getTime()) &&
      check.getUTCFullYear() === +y && check.getUTCMonth() + 1 === +mo && check.getUTCDate() === +d &&
      check.getUTCHours() === +h && check.getUTCMinutes() === +mi && check.getUTCSeconds() === +s;
    const ms = same ? Date.parse(`${wall}${frac}${zone}`) : Number.NaN;
    if (!Number.isNaN(ms)) return ms / 1000;
    throw fieldError(`not a valid calendar date/time: ${JSON.stringify(value)}`, where);
  }
  throw fieldError(`expected unix seconds or an ISO date (YYYY-MM-DD[THH:MM[:SS]][Z]), got ${JSON.stringify(value)}`, where);
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v);
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

/**
 * A field that must be a non-empty string (or an integer, turned into its decimal string) to serve as an id.
 * JSON numbers are doubles: above 2^53 JSON.parse rounds them, so two different ids would silently merge; such ids
 * must be quoted. Non-integer numbers are rejected too: 1.10 and 1.1 would be one id, and a float id column usually
 * means the wrong column (2.0 is JSON's integer 2 and is kept, as pandas writes integer ids with a NaN in the column).
 */
export function idValue(value: unknown, where: Where): string {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return String(value);
    const why = Number.isInteger(value) ? "beyond 2^53, so JSON cannot hold it exactly" : "not an integer";
    throw fieldError(`numeric id (read as ${value}) is ${why}: write ids as strings ("id": "...")`, where);
  }
  if (typeof value === "string" && value.trim().length > 0) return value.trim();
  throw fieldError(`expected a non-empty id, got ${describe(value)}`, where);
}
