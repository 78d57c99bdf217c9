/**
 * Bad input must end in a ReclmError naming the file (and the line for row/field errors), never in another
 * exception type. Explicit cases first, then fast-check mutations (truncation, byte flips, inserted junk,
 * re-encoding) of small valid files for every loader.
 */
import fc from "fast-check";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ReclmError } from "../../src/errors.ts";
import { loadDataset, type LoadDatasetOptions } from "../../src/data/index.ts";

const root = mkdtempSync(join(tmpdir(), "reclm-fuzz-"));
let counter = 0;

type Files = Record<string, string | Buffer>;

function writeDir(files: Files): string {
  const dir = join(root, `case${counter++}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

// Small valid inputs: 6 users x 6 items, every user rates every item (so any protocol keeps something).
const U = 6;
const I = 6;
const pairs: [number, number, number][] = [];
for (let u = 1; u <= U; u++) for (let i = 1; i <= I; i++) pairs.push([u, i, 1_000_000 + u * 100 + ((i * 7 + u) % I)]);

const VALID: Record<string, { files: Files; options?: (dir: string) => LoadDatasetOptions }> = {
  "ml-latest-small": {
    files: {
      "ratings.csv": "userId,movieId,rating,timestamp\r\n" + pairs.map(([u, i, t]) => `${u},${i},4.5,${t}`).join("\r\n") + "\r\n",
      "movies.csv": "movieId,title,genres\r\n" + Array.from({ length: I }, (_, k) => `${k + 1},"Film ${k + 1}, The (199${k})",Drama|Comedy`).join("\r\n") + "\r\n",
    },
  },
  "ml-100k": {
    files: {
      "u.data": pairs.map(([u, i, t]) => `${u}\t${i}\t3\t${t}`).join("\n") + "\n",
      "u.item": Buffer.from(Array.from({ length: I }, (_, k) => `${k + 1}|Caf\u00e9 ${k + 1} (1995)|01-Jan-1995||http://x|${Array.from({ length: 19 }, (_, g) => (g === k ? 1 : 0)).join("|")}`).join("\n") + "\n", "latin1"),
    },
  },
  "ml-1m": {
    files: {
      "ratings.dat": pairs.map(([u, i, t]) => `${u}::${i}::5::${t}`).join("\n") + "\n",
      "movies.dat": Buffer.from(Array.from({ length: I }, (_, k) => `${k + 1}::M\u00f6vie ${k + 1} (1990)::Drama|War`).join("\n") + "\n", "latin1"),
    },
  },
  "ml-1m-preprocessed": {
    files: {
      "lrurec/dataset.json": JSON.stringify({
        train: Object.fromEntries(Array.from({ length: U }, (_, u) => [String(u + 1), [1, 2, 3, 4]])),
        val: Object.fromEntries(Array.from({ length: U }, (_, u) => [String(u + 1), [5]])),
        test: Object.fromEntries(Array.from({ length: U }, (_, u) => [String(u + 1), [6]])),
        umap: Object.fromEntries(Array.from({ length: U }, (_, u) => [String(u + 1), u + 1])),
        smap: Object.fromEntries(Array.from({ length: I }, (_, i) => [String(10 + i), i + 1])),
      }),
      "movies.dat": Array.from({ length: I }, (_, k) => `${10 + k}::Movie ${k} (1990)::Drama`).join("\n") + "\n",
    },
    options: () => ({ protocol: "lrurec-preprocessed" }),
  },
  beauty: {
    files: {
      "ratings_Beauty.csv": pairs.map(([u, i, t]) => `A${u}USER,B00${i}ITEM,5.0,${t}`).join("\n") + "\n",
      "meta_Beauty.json.gz": gzipSync(
        Array.from({ length: I }, (_, k) => `{'asin': 'B00${k + 1}ITEM', 'title': 'Lip &amp; Cheek ${k + 1}', 'categories': [['Beauty', 'Makeup']], 'price': ${k}.5, 'ok': True}`).join("\n") + "\n",
      ),
    },
  },
  steam: {
    files: {
      "steam_reviews.json": pairs.map(([u, i, t]) => `{'username': 'user ${u}', 'product_id': '${i * 10}', 'date': '2017-0${1 + (t % 9)}-1${u % 9}', 'text': 'it\\'s fine', 'hours': 1.5}`).join("\n") + "\n",
      "steam_games.json": Array.from({ length: I }, (_, k) => `{'id': '${(k + 1) * 10}', 'app_name': "Game's ${k}", 'genres': ['Indie'], 'metascore': None}`).join("\n") + "\n",
    },
  },
  "custom-csv": {
    files: {
      "inter.csv": "user_id,item_id,time\n" + pairs.map(([u, i, t]) => `u${u},i${i},${t}`).join("\n") + "\n",
      "items.csv": "id,title,genre\n" + Array.from({ length: I }, (_, k) => `i${k + 1},"Thing, ${k}",g${k % 2}`).join("\n") + "\n",
    },
    options: (dir) => ({ interactions: join(dir, "inter.csv"), items: join(dir, "items.csv") }),
  },
  "custom-jsonl": {
    files: {
      "inter.jsonl": pairs.map(([u, i, t]) => JSON.stringify({ userId: u, itemId: `i${i}`, timestamp: new Date(t * 1000).toISOString() })).join("\n") + "\n",
      "items.jsonl": Array.from({ length: I }, (_, k) => JSON.stringify({ item_id: `i${k + 1}`, name: `Thing ${k}`, tags: ["a"] })).join("\n") + "\n",
    },
    options: (dir) => ({ interactions: join(dir, "inter.jsonl"), items: join(dir, "items.jsonl") }),
  },
};

function datasetName(key: string): string {
  return key.startsWith("custom") ? "custom" : key.replace("-preprocessed", "");
}

async function load(key: string, files: Files, protocol?: string) {
  const dir = writeDir(files);
  const opts = VALID[key].options?.(dir) ?? {};
  return loadDataset(datasetName(key), { protocol: "none", ...opts, ...(protocol ? { protocol } : {}), ...(datasetName(key) === "custom" ? {} : { dataDir: dir }), cacheDir: join(dir, ".cache"), refresh: true });
}

/** Either a dataset, or a ReclmError naming a file (and a line for row/field errors). */
async function expectDatasetOrLocatedError(key: string, files: Files): Promise<ReclmError | undefined> {
  try {
    const ds = await load(key, files);
    expect(ds.users.length).toBeGreaterThan(0);
    return undefined;
  } catch (e) {
    if (!(e instanceof ReclmError)) throw new Error(`${key}: non-ReclmError ${String(e)}`, { cause: e });
    expect(e.location.file, `${key}: ${e.message}`).toBeTruthy();
    if (e.code === "RECLM_ERR_BAD_ROW" || e.code === "RECLM_ERR_BAD_FIELD") expect(e.location.line, e.message).toBeGreaterThan(0);
    return e;
  }
}

describe("valid fixtures load", () => {
  it.each(Object.keys(VALID))("%s", async (key) => {
    const ds = await load(key, VALID[key].files, VALID[key].options ? undefined : undefined);
    expect(ds.users.length).toBe(U);
    expect(ds.catalog.size).toBe(I);
  });
});

async function expectError(key: string, patch: Files, code: string, where: { file: string; line?: number; field?: string }) {
  const e = await expectDatasetOrLocatedError(key, { ...VALID[key].files, ...patch });
  expect(e, `expected ${code}`).toBeDefined();
  expect(e!.code).toBe(code);
  expect(e!.location.file?.endsWith(where.file)).toBe(true);
  if (where.line !== undefined) expect(e!.location.line).toBe(where.line);
  if (where.field !== undefined) expect(e!.location.field).toBe(where.field);
}

describe("explicit bad inputs", () => {
  const ratings = VALID["ml-latest-small"].files["ratings.csv"] as string;
  const lines = ratings.split("\r\n");

  it("missing file", async () => {
    const { "movies.csv": _m, ...rest } = VALID["ml-latest-small"].files;
    const dir = writeDir(rest);
    await expect(loadDataset("ml-latest-small", { dataDir: dir, cacheDir: join(dir, ".c") })).rejects.toMatchObject({
      code: "RECLM_ERR_FILE_NOT_FOUND",
      location: { file: join(dir, "movies.csv") },
    });
  });
  it("empty file", () => expectError("ml-latest-small", { "ratings.csv": "" }, "RECLM_ERR_FILE_EMPTY", { file: "ratings.csv" }));
  it("wrong delimiter", () => expectError("ml-latest-small", { "ratings.csv": ratings.replace(/,/g, ";") }, "RECLM_ERR_BAD_HEADER", { file: "ratings.csv", line: 1 }));
  it("wrong delimiter in u.data", () => expectError("ml-100k", { "u.data": "1,2,3,4\n" }, "RECLM_ERR_BAD_ROW", { file: "u.data", line: 1 }));
  it("non-numeric id", () => {
    const bad = [...lines];
    bad[3] = "7,abc,4.0,1000";
    return expectError("ml-latest-small", { "ratings.csv": bad.join("\r\n") }, "RECLM_ERR_BAD_FIELD", { file: "ratings.csv", line: 4, field: "movieId" });
  });
  it("invalid UTF-8", () => {
    const bytes = Buffer.from(ratings, "utf8");
    const at = ratings.indexOf("\r\n", ratings.indexOf("\r\n") + 2) + 2; // start of line 3
    bytes[at] = 0xff;
    return expectError("ml-latest-small", { "ratings.csv": bytes }, "RECLM_ERR_BAD_ENCODING", { file: "ratings.csv", line: 3 });
  });
  it("duplicate header", () =>
    expectError("ml-latest-small", { "ratings.csv": ratings.replace("userId,movieId,rating,timestamp", "userId,movieId,rating,userId") }, "RECLM_ERR_BAD_HEADER", { file: "ratings.csv", field: "userId" }));
  it("truncated line / wrong column count", () => {
    const bad = [...lines];
    bad[5] = "3,4";
    return expectError("ml-latest-small", { "ratings.csv": bad.join("\r\n") }, "RECLM_ERR_BAD_ROW", { file: "ratings.csv", line: 6 });
  });
  it("bad timestamp", () =>
    expectError("custom-csv", { "inter.csv": "user,item,timestamp\nu1,i1,yesterday\n" }, "RECLM_ERR_BAD_FIELD", { file: "inter.csv", line: 2, field: "timestamp" }));
  it("bad date in steam", () => {
    const body = (VALID.steam.files["steam_reviews.json"] as string).replace("'date': '2017-0", "'date': '2017-13");
    return expectError("steam", { "steam_reviews.json": body }, "RECLM_ERR_BAD_FIELD", { file: "steam_reviews.json", line: 1, field: "date" });
  });
  it("malformed Python literal", () =>
    expectError("steam", { "steam_games.json": "{'id': '10', 'app_name': 'x'\n" }, "RECLM_ERR_BAD_ROW", { file: "steam_games.json", line: 1 }));
  it("malformed JSON line", () =>
    expectError("custom-jsonl", { "inter.jsonl": '{"userId": 1, "itemId": "i1", "timestamp": 5}\n{"userId": 2,\n' }, "RECLM_ERR_BAD_ROW", { file: "inter.jsonl", line: 2 }));
  it("not gzip", () => expectError("beauty", { "meta_Beauty.json.gz": "{'asin': 'x'}" }, "RECLM_ERR_BAD_ENCODING", { file: "meta_Beauty.json.gz" }));
  it("latin-1 where UTF-8 is expected", () =>
    expectError("custom-csv", { "items.csv": Buffer.from("id,title\ni1,Caf\u00e9\n", "latin1") }, "RECLM_ERR_BAD_ENCODING", { file: "items.csv", line: 2 }));
  it("published split with an out-of-range sid", () => {
    const d = JSON.parse(VALID["ml-1m-preprocessed"].files["lrurec/dataset.json"] as string);
    d.test["3"] = [99];
    return expectError("ml-1m-preprocessed", { "lrurec/dataset.json": JSON.stringify(d) }, "RECLM_ERR_BAD_DATASET", { file: "dataset.json", field: "test" });
  });
});

/** Mutations of one file's bytes. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat({ max: 1_000_000 }) }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat({ max: 1_000_000 }), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat({ max: 1_000_000 }),
    text: fc.constantFrom(",", "\t", "\n", '"', "'", "::", "|", "{", "}", "\\", "\u00e9", "\uFFFD", "-1", "abc", "1e999", "None", "\r\n", "\0"),
  }),
  fc.record({ kind: fc.constant("latin1" as const) }),
  fc.record({ kind: fc.constant("utf16" as const) }),
);

function mutate(body: Buffer, m: Record<string, unknown>): Buffer {
  // fast-check favours small numbers; a modulo spreads positions over the whole file.
  const at = ((m.at as number | undefined) ?? 0) % (body.length + 1);
  switch (m.kind) {
    case "truncate":
      return body.subarray(0, at);
    case "flip": {
      const b = Buffer.from(body);
      if (b.length) b[Math.min(at, b.length - 1)] = m.byte as number;
      return b;
    }
    case "insert":
      return Buffer.concat([body.subarray(0, at), Buffer.from(m.text as string, "utf8"), body.subarray(at)]);
    case "latin1":
      return Buffer.from(body.toString("utf8"), "latin1");
    default:
      return Buffer.from(body.toString("utf8"), "utf16le");
  }
}

describe("fuzz: every loader on mutated files", () => {
  it.each(Object.keys(VALID))("%s", async (key) => {
    const names = Object.keys(VALID[key].files);
    const outcomes = { ok: 0, error: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (name, ms) => {
        let body: Buffer = Buffer.from(VALID[key].files[name]);
        for (const m of ms) body = mutate(body, m as Record<string, unknown>);
        const e = await expectDatasetOrLocatedError(key, { ...VALID[key].files, [name]: body });
        outcomes[e ? "error" : "ok"]++;
      }),
      { numRuns: 60, seed: 42 },
    );
    // The mutations must actually break files (and not all of them): otherwise this test proves nothing.
    expect(outcomes.error).toBeGreaterThan(5);
    expect(outcomes.ok).toBeGreaterThan(0);
  }, 20_000);
});
