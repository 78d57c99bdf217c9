/**
 * DuckDB's reading of your own logs (src/data/loaders/log-files.ts) against custom.ts, the JavaScript reader whose
 * meaning of every field it reproduces: timestamps and JSON ids value for value, errors at the line custom.ts names
 * (also past quoted line breaks, blank lines, in .gz files and in files too big for custom.ts), Parquet input, the
 * memory check.
 */
import fc from "fast-check";
import { mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { Duck } from "../../src/data/duck/connection.ts";
import { FIELD_MACROS, jsonIdSql, readLogFile, staged, timeStages } from "../../src/data/loaders/log-files.ts";
import { idValue, timestamp } from "../../src/data/loaders/text.ts";
import { writeSyntheticLog } from "../../src/data/synthetic-log.ts";
import { ReclmError } from "../../src/errors.ts";
import { fullFingerprint } from "../helpers/split-cases.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-logs-"));
let duck: Duck;
beforeAll(async () => {
  duck = await Duck.open({ threads: 1 });
  for (const m of FIELD_MACROS) await duck.run(m);
});
afterAll(() => duck.close());

/** What custom.ts makes of a value: a number, or "error". */
function jsSide<T>(f: () => T): T | "error" {
  try {
    return f();
  } catch (e) {
    if (e instanceof ReclmError) return "error";
    throw e;
  }
}

const where = { file: "x", line: 1, field: "f" };

/** Valid ISO 8601 times in the shapes people write them: separators, cut fractions, zones. */
const isoText = fc
  .tuple(
    fc.integer({ min: -2e12, max: 4e12 }),
    fc.constantFrom("T", " "),
    fc.integer({ min: 0, max: 7 }),
    fc.constantFrom("Z", "", "+05:30", "-0800", "+00:00", "-11:45"),
    fc.constantFrom("full", "minutes", "date"),
  )
  .map(([ms, sep, digits, zone, cut]) => {
    const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    if (cut === "date") return iso.slice(0, 10);
    if (cut === "minutes") return `${iso.slice(0, 10)}${sep}${iso.slice(11, 16)}${zone}`;
    const frac = digits === 0 ? "" : `.${(iso.slice(20, 23) + "456789").slice(0, digits)}`;
    return `${iso.slice(0, 10)}${sep}${iso.slice(11, 19)}${frac}${zone}`;
  });

/** Strings near the edges of what a timestamp may be. */
const timeText = fc.oneof(
  { arbitrary: isoText, weight: 3 },
  fc.double({ noNaN: true }).map(String),
  fc.integer({ min: -1e12, max: 1e12 }).map(String),
  fc.tuple(fc.constantFrom("", "+", "-"), fc.nat(99999), fc.constantFrom("", ".", ".5", ".25e3", "e-2", "E+9", "e", "e999", "_0", "0x1")).map(([a, b, c]) => `${a}${b}${c}`),
  fc.tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.constantFrom("", "T", " "),
    fc.integer({ min: 0, max: 25 }),
    fc.integer({ min: 0, max: 61 }),
    fc.constantFrom("", ":00", ":59", ":60", ":07.1", ":07.123456", ":07."),
    fc.constantFrom("", "Z", "+05:30", "-0800", "+24:00", "+05:60", "-00:00", "+2359", "z"),
  ).map(([y, mo, d, sep, h, mi, s, z]) => {
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    const date = `${p(y, 4)}-${p(mo)}-${p(d)}`;
    return sep === "" ? date + (z === "Z" ? "" : "") : `${date}${sep}${p(h)}:${p(mi)}${s}${z}`;
  }),
  fc.constantFrom("yesterday", "inf", "Infinity", "NaN", "nan", "1_000", "0x10", "", " ", "1e308", "1e309", "-0", "00012", "\u00a012\u3000", "\t7\n", "2020-01-01T00:00:00.Z", "２０２０", "2021-02-03T24:00:00Z", "2021-02-03 24:00", "2020-12-31T23:59:60Z", "2021-02-30", "2021-04-31T10:00"),
  fc.tuple(fc.constantFrom(" ", "\u00a0", "\u2028", "\ufeff", "\u000b", ""), fc.constantFrom("12", "2020-02-29", "2021-02-29", "1.5"), fc.constantFrom(" ", "\u3000", "")).map(([a, b, c]) => a + b + c),
);

describe("timestamps: SQL and custom.ts agree value for value", () => {
  it("on numbers, ISO dates and junk", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(timeText, { minLength: 1, maxLength: 60 }), async (values) => {
        await duck.createTable("t", { v: values, k: Int32Array.from(values, (_, k) => k) });
        const rows = await duck.rows(`SELECT k, ts FROM ${staged("t", timeStages("v", "ts"))} ORDER BY k`);
        values.forEach((v, k) => {
          const want = jsSide(() => timestamp(v, where));
          const got = rows[k].ts as number | null;
          expect(got === null || !Number.isFinite(got) ? "error" : got, JSON.stringify(v)).toBe(want);
        });
      }),
      { numRuns: 60, seed: 3 },
    );
  });
});

describe("JSON ids: SQL and custom.ts agree", () => {
  it("on strings, integers, floats and other JSON values", async () => {
    const jsonValue = fc.oneof(
      fc.integer().map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
      fc.constantFrom("2.0", "1e3", "-0", "9007199254740991", "9007199254740992", "9007199254740993", "18446744073709551616", "1e300", "0.5", "true", "null", "[1]", '{"a":1}', '""', '"  "', '" a "', '"\\u00a0b\\u3000"', '"x"'),
      fc.string().map((s) => JSON.stringify(s)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(jsonValue, { minLength: 1, maxLength: 40 }), async (texts) => {
        await duck.createTable("j", { v: texts, k: Int32Array.from(texts, (_, k) => k) });
        const rows = await duck.rows(`SELECT k, ${jsonIdSql("CAST(v AS JSON)")} AS id FROM j ORDER BY k`);
        texts.forEach((t, k) => {
          const want = jsSide(() => idValue(JSON.parse(t) as unknown, where));
          expect(rows[k].id ?? "error", t).toBe(want);
        });
      }),
      { numRuns: 40, seed: 4 },
    );
  });
});

/** Loads `body` (written to `name`) as dataset "custom" under protocol none. */
async function loadText(name: string, body: string | Buffer, extra: Record<string, unknown> = {}) {
  const file = join(dir, name);
  writeFileSync(file, body);
  return loadDataset("custom", { interactions: file, protocol: "none", cacheDir: join(dir, "cache"), refresh: true, ...extra });
}

async function errorOf(p: Promise<unknown>): Promise<ReclmError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ReclmError) return e;
    throw e;
  }
  throw new Error("expected a ReclmError");
}

describe("errors name the line custom.ts names", () => {
  const good = ["user,item,timestamp", "u1,a,1", "u1,b,2", "u1,c,3"];
  it("past a quoted line break and blank lines", async () => {
    const body = [good[0], 'u1,"multi\nline",1', "", "u1,b,2", "   ", "u1,c,3", "u2,a,yesterday", "u2,b,5"].join("\n");
    const e = await errorOf(loadText("quoted.csv", body));
    expect(e.code).toBe("RECLM_ERR_BAD_FIELD");
    expect(e.location).toMatchObject({ line: 8, field: "timestamp" });
  });

  it("in a gzipped TSV", async () => {
    const body = ["user\titem\ttimestamp", "u1\ta\t1", "u1\t\t2", "u1\tc\t3"].join("\n");
    const e = await errorOf(loadText("bad.tsv.gz", gzipSync(body)));
    expect(e).toMatchObject({ code: "RECLM_ERR_BAD_FIELD", location: { line: 3, field: "item" } });
  });

  it("in a JSONL file", async () => {
    const body = ['{"user": "u1", "item": "a", "timestamp": 1}', "", '{"user": "u1", "item": 1.5, "timestamp": 2}'].join("\n");
    const e = await errorOf(loadText("bad.jsonl", body));
    expect(e).toMatchObject({ code: "RECLM_ERR_BAD_FIELD", location: { line: 3, field: "item" } });
  });

  it("when DuckDB's reader refuses a file too big for custom.ts, its message and line", async () => {
    const file = join(dir, "short.csv");
    writeFileSync(file, [...good, "u1,d", "u1,e,5"].join("\n"));
    const d = await Duck.open({ threads: 1 });
    try {
      const e = await errorOf(readLogFile(d, file, { fallbackMaxBytes: 0 }));
      expect(e).toMatchObject({ code: "RECLM_ERR_BAD_ROW", location: { file, line: 5 } });
      expect(e.message).toMatch(/Expected Number of Columns: 3 Found: 2/);
    } finally {
      d.close();
    }
  });

  it("a small file DuckDB refuses but custom.ts reads (whitespace-only lines) loads as before", async () => {
    const ds = await loadText("ws.csv", [...good, "  \t ", "u2,a,1", "u2,b,2", "u2,c,3"].join("\n"));
    expect(ds.users).toEqual(["u1", "u2"]);
  });
});

describe("inputs and limits", () => {
  const log = join(dir, "syn.csv");
  beforeAll(() => {
    writeSyntheticLog(log, { users: 120, items: 150, seed: 5, tieProb: 0.3, itemIdStyle: "string" });
  });

  it("a Parquet log gives the split its CSV gives", async () => {
    const parquet = join(dir, "syn.parquet");
    await duck.run(`COPY (SELECT * FROM read_csv('${log}', all_varchar = true)) TO '${parquet}' (FORMAT parquet)`);
    const opts = { protocol: "lrurec", cacheDir: join(dir, "cache"), refresh: true };
    const fromCsv = await loadDataset("custom", { interactions: log, ...opts });
    const fromParquet = await loadDataset("custom", { interactions: parquet, ...opts });
    expect(fullFingerprint(fromParquet)).toBe(fullFingerprint(fromCsv));
  });

  it("a log too big for the memory limit is refused before it is read, naming the file and the memory it needs", async () => {
    // 150,000 rows (more than the 1 MiB the estimate reads), then a sparse hole to 8 GiB: the size estimate says
    // ~600M rows, and nothing more is read to find out.
    const big = join(dir, "big.csv");
    writeFileSync(big, ["user,item,timestamp", ...Array.from({ length: 150_000 }, (_, k) => `${k % 50},${k % 70},${k}`)].join("\n") + "\n");
    truncateSync(big, 8 * 2 ** 30);
    const e = await errorOf(loadDataset("custom", { interactions: big, cacheDir: join(dir, "cache"), refresh: true, memoryLimit: 2 ** 30 }));
    expect(e.code).toBe("RECLM_ERR_OUT_OF_MEMORY");
    expect(e.location.file).toBe(big);
    expect(e.message).toMatch(/holds about \d+ rows .*needs about [\d.]+ GiB, more than the memory limit of 1\.0 GiB/);
  });

  it("a small log loads under a small memory limit (the CSV reader's buffer is not the whole limit)", async () => {
    const ds = await loadDataset("custom", { interactions: log, cacheDir: join(dir, "cache"), refresh: true, memoryLimit: 128 * 2 ** 20 });
    expect(ds.catalog.size).toBeGreaterThan(1);
  });

  it("DuckDB running out of memory is a ReclmError naming the file and the limit", async () => {
    const e = await errorOf(loadDataset("custom", { interactions: log, cacheDir: join(dir, "cache"), refresh: true, memoryLimit: 2 ** 20 }));
    expect(e).toMatchObject({ code: "RECLM_ERR_OUT_OF_MEMORY", location: { file: log } });
    expect(e.message).toMatch(/DuckDB ran out of memory under its limit of 1 MiB/);
  });
});
