import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { datasetStats, historyFor, loadDataset } from "../../src/data/index.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const tmpCache = () => mkdtempSync(join(tmpdir(), "reclm-fmt-"));

describe("steam loader (hand-made fixture)", () => {
  it("parses Python-literal reviews and games; lrurec drops immediate repeats and single-pass 5-cores", async () => {
    const ds = await loadDataset("steam", { dataDir: join(FIXTURES, "steam"), cacheDir: tmpCache() });
    expect(ds.protocol).toBe("lrurec");
    // Item 60 has 2 reviews -> dropped; frank then has 0, erin 5; the repeated (alice, 20) row goes.
    expect(ds.users).toEqual(["alice", "bob", "carol", "dave", "erin"]);
    expect(ds.catalog.items.map((i) => i.title)).toEqual(["", "Lantern Quest", "Café Tycoon", "Orbit's Edge", "Harbor Nights", "Iron Valley Deluxe"]);
    expect(ds.catalog.items[1].attributes).toEqual({ genres: ["Action", "Indie"], tags: ["Action", "Pixel Graphics"], developer: "Made Up Games" });
    expect(datasetStats(ds).interactions).toBe(25);
    // bob: 20 and 30 share a date -> tie broken by dense id.
    expect([...historyFor(ds, 1, "test"), ds.test[1]]).toEqual([1, 2, 3, 4, 5]);
    expect([...historyFor(ds, 2, "test"), ds.test[2]]).toEqual([5, 4, 3, 2, 1]);
  });

  it("keeps every row under protocol none", async () => {
    const ds = await loadDataset("steam", { dataDir: join(FIXTURES, "steam"), protocol: "none", cacheDir: tmpCache() });
    expect(datasetStats(ds).interactions).toBe(27); // 28 rows, frank (1 row) dropped, the repeat is kept
  });
});

describe("custom loader", () => {
  it("accepts aliases, ISO and unix timestamps, and an items file", async () => {
    const ds = await loadDataset("custom", {
      interactions: join(FIXTURES, "custom", "interactions.csv"),
      items: join(FIXTURES, "custom", "items.jsonl"),
      protocol: "none",
      cacheDir: tmpCache(),
    });
    expect(ds.users).toEqual(["u1", "u2", "u3"]);
    expect(ds.catalog.items.map((i) => i.title)).toEqual(["", "Alpha Widget", "Beta Gadget", "Gamma Gizmo", "D", "E"]);
    expect(ds.catalog.items[1]).toEqual({ rawId: "A", title: "Alpha Widget", text: "The first widget.", attributes: { color: "red", tags: ["x", "y"] } });
    // u1: A(2020-01-01) C(1577923200 = 2020-01-02T00:00Z) B(2020-01-02T10:00Z) D(2020-01-05)
    expect([...ds.train[0], ds.val[0], ds.test[0]]).toEqual([1, 3, 2, 4]);
  });

  it("llamarec drops untitled items, then has too few rows left", async () => {
    await expect(
      loadDataset("custom", {
        interactions: join(FIXTURES, "custom", "interactions.csv"),
        items: join(FIXTURES, "custom", "items.jsonl"),
        protocol: "llamarec",
        cacheDir: tmpCache(),
      }),
    ).rejects.toThrow(/no user left/);
  });

  it("names unknown datasets and protocols", async () => {
    await expect(loadDataset("nope")).rejects.toMatchObject({ code: "RECLM_ERR_UNKNOWN_DATASET" });
    await expect(loadDataset("embedded", { protocol: "lrurec" })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
    await expect(loadDataset("custom", { cacheDir: tmpCache() })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
  });
});
