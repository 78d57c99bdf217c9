/**
 * reclm's one door to DuckDB (embedded, in-process, no server): open an in-memory database with a memory limit, a
 * thread count and a spill directory; run SQL; read result columns straight into typed arrays, chunk by chunk, so a
 * 50M-row result never becomes 50M JavaScript values; append typed arrays as a table. DuckDB's errors come back as
 * ReclmErrors naming the input file (and, for running out of memory, how much the limit was).
 * Only importer of `@duckdb/node-api`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DOUBLE,
  DuckDBDataChunk,
  DuckDBInstance,
  INTEGER,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBVector,
} from "@duckdb/node-api";
import { ReclmError } from "../../errors.ts";
import { formatBytes, resolveMemoryLimit } from "./memory.ts";

export interface DuckOptions {
  /** DuckDB's memory_limit in bytes (default: resolveMemoryLimit()). */
  memoryLimit?: number;
  /** Worker threads (default: $RECLM_THREADS or the CPU count). */
  threads?: number;
}

/** Columns appended as one table: Int32Array -> INTEGER, Float64Array -> DOUBLE, string[] -> VARCHAR. */
export type AppendColumn = Int32Array | Float64Array | readonly string[];

const CHUNK = 2048;

export class Duck {
  readonly memoryLimit: number;
  private readonly spillDir: string;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    memoryLimit: number,
    spillDir: string,
  ) {
    this.memoryLimit = memoryLimit;
    this.spillDir = spillDir;
  }

  static async open(options: DuckOptions = {}): Promise<Duck> {
    const memoryLimit = options.memoryLimit ?? resolveMemoryLimit();
    const envThreads = Number(process.env.RECLM_THREADS);
    const threads = options.threads ?? (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : undefined);
    // Sorts and joins bigger than the limit spill here instead of failing; removed on close.
    const spillDir = mkdtempSync(join(tmpdir(), "reclm-duckdb-"));
    const config: Record<string, string> = {
      memory_limit: `${Math.max(1, Math.floor(memoryLimit / 2 ** 20))}MiB`,
      temp_directory: spillDir,
      // File order is the protocols' row order (LRURec's repeat filter, the tie rank's set order).
      preserve_insertion_order: "true",
      enable_external_access: "true",
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    };
    if (threads !== undefined) config.threads = String(threads);
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(":memory:", config);
      return new Duck(instance, await instance.connect(), memoryLimit, spillDir);
    } catch (e) {
      instance?.closeSync();
      rmSync(spillDir, { recursive: true, force: true });
      throw new ReclmError("RECLM_ERR_INTERNAL", `could not start DuckDB: ${(e as Error).message}`, {}, { cause: e });
    }
  }

  /** Runs one or more statements; a DuckDB error becomes a ReclmError about `file` (the input being read). */
  async run(sql: string, file?: string): Promise<void> {
    this.assertOpen();
    try {
      await this.conn.run(sql);
    } catch (e) {
      throw this.translate(e, file);
    }
  }

  /** A small result as plain rows (numbers for integers up to 2^53, strings, booleans, null). */
  async rows(sql: string, file?: string): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    try {
      const reader = await this.conn.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));
    } catch (e) {
      throw this.translate(e, file);
    }
  }

  /** The one value of a one-row, one-column result. */
  async value(sql: string, file?: string): Promise<unknown> {
    const rows = await this.rows(sql, file);
    const row = rows[0];
    if (!row) throw new ReclmError("RECLM_ERR_INTERNAL", `query returned no row: ${sql.slice(0, 120)}`);
    return Object.values(row)[0];
  }

  /**
   * Streams a query's numeric columns (INTEGER, BIGINT below 2^53, DOUBLE; no NULLs) chunk by chunk: `onChunk` gets
   * one scratch Float64Array per column holding the chunk's `rows` values, valid until it returns. Nothing the size of
   * the result is allocated here.
   */
  async scan(sql: string, columns: number, onChunk: (cols: readonly Float64Array[], rows: number) => void, file?: string): Promise<number> {
    this.assertOpen();
    const scratch = Array.from({ length: columns }, () => new Float64Array(CHUNK));
    let total = 0;
    try {
      const result = await this.conn.stream(sql);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const m = chunk.rowCount;
        for (let c = 0; c < columns; c++) {
          if (scratch[c].length < m) scratch[c] = new Float64Array(m);
          const v = chunk.getColumnVector(c) as DuckDBVector;
          const out = scratch[c];
          for (let j = 0; j < m; j++) {
            const x = v.getItem(j);
            out[j] = typeof x === "number" ? x : typeof x === "bigint" ? Number(x) : Number.NaN;
            if (Number.isNaN(out[j])) throw new ReclmError("RECLM_ERR_INTERNAL", `expected a numeric column without NULLs, got ${String(x)}`);
          }
        }
        onChunk(scratch, m);
        total += m;
      }
    } catch (e) {
      throw this.translate(e, file);
    }
    return total;
  }

  /** One numeric column of a query as a Float64Array. */
  async numbers(sql: string, file?: string): Promise<Float64Array> {
    let out = new Float64Array(1024);
    let n = 0;
    await this.scan(sql, 1, ([col], m) => {
      if (n + m > out.length) {
        const g = new Float64Array(Math.max(out.length * 2, n + m));
        g.set(out.subarray(0, n));
        out = g;
      }
      out.set(col.subarray(0, m), n);
      n += m;
    }, file);
    return out.slice(0, n);
  }

  /** Streams one VARCHAR column into a string array. */
  async strings(sql: string, file?: string): Promise<string[]> {
    this.assertOpen();
    const out: string[] = [];
    try {
      const result = await this.conn.stream(sql);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const v = chunk.getColumnVector(0) as DuckDBVector<string>;
        for (let j = 0; j < chunk.rowCount; j++) {
          const s = v.getItem(j);
          if (typeof s !== "string") throw new ReclmError("RECLM_ERR_INTERNAL", "expected a VARCHAR column without NULLs");
          out.push(s);
        }
      }
    } catch (e) {
      throw this.translate(e, file);
    }
    return out;
  }

  /** Creates `table` from equal-length columns (typed arrays or strings), appended a chunk at a time. */
  async createTable(table: string, columns: Record<string, AppendColumn>): Promise<void> {
    this.assertOpen();
    const names = Object.keys(columns);
    const cols = names.map((n) => columns[n]);
    const length = cols[0]?.length ?? 0;
    if (cols.some((c) => c.length !== length)) throw new ReclmError("RECLM_ERR_INTERNAL", `columns of ${table} differ in length`);
    const types: DuckDBType[] = cols.map((c) => (c instanceof Int32Array ? INTEGER : c instanceof Float64Array ? DOUBLE : VARCHAR));
    const decl = names.map((n, k) => `${quoteIdent(n)} ${types[k] === INTEGER ? "INTEGER" : types[k] === DOUBLE ? "DOUBLE" : "VARCHAR"}`).join(", ");
    try {
      await this.conn.run(`CREATE OR REPLACE TABLE ${quoteIdent(table)} (${decl})`);
      const appender = await this.conn.createAppender(table);
      const chunk = DuckDBDataChunk.create(types, CHUNK);
      for (let start = 0; start < length; start += CHUNK) {
        const m = Math.min(CHUNK, length - start);
        chunk.rowCount = m;
        cols.forEach((c, k) => chunk.setColumnValues(k, Array.prototype.slice.call(c, start, start + m) as (number | string)[]));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
      appender.closeSync();
    } catch (e) {
      throw this.translate(e);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.closeSync();
      this.instance.closeSync();
    } finally {
      rmSync(this.spillDir, { recursive: true, force: true });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ReclmError("RECLM_ERR_DISPOSED", "the DuckDB connection was closed");
  }

  /** DuckDB's error classes, turned into reclm's codes; the message keeps DuckDB's first line. */
  private translate(e: unknown, file?: string): Error {
    if (e instanceof ReclmError) return e;
    const message = e instanceof Error ? e.message : String(e);
    const first = message.split("\n")[0];
    // DuckDB's reader errors say what was wrong on the lines after the first, before its list of possible fixes.
    const lines = message.split("\n");
    const end = lines.findIndex((l, k) => k > 0 && (l.trim() === "" || /^Possible/.test(l)));
    const detail = lines.slice(0, end < 0 ? 4 : Math.min(end, 4)).join("; ");
    const where = file !== undefined ? { file } : {};
    if (/^Out of Memory Error/i.test(message)) {
      return new ReclmError(
        "RECLM_ERR_OUT_OF_MEMORY",
        `DuckDB ran out of memory under its limit of ${formatBytes(this.memoryLimit)} (${first}); ` +
          "raise --memory-limit if the machine has more, or prepare the log on a bigger machine or a cluster (src/data/protocols/sql)",
        where,
        { cause: e },
      );
    }
    if (/^IO Error: (No files found|Cannot open file|Could not open file)/i.test(message)) {
      return new ReclmError("RECLM_ERR_FILE_NOT_FOUND", first, where, { cause: e });
    }
    if (/^(Invalid Input|Conversion|IO|Invalid) Error/i.test(message) && file !== undefined) {
      return new ReclmError("RECLM_ERR_BAD_DATASET", `DuckDB could not read the file: ${detail}`, where, { cause: e });
    }
    return new ReclmError("RECLM_ERR_INTERNAL", `DuckDB: ${first}`, where, { cause: e });
  }
}

/** A SQL identifier, double-quoted. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal, single-quoted. */
export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
