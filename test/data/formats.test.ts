import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { mkdtempSync, writeFileSync } from "node:fs";
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
    ).rejects.toThrow(/no user left.*dropping items without a title removed 4 of 11 rows/);
  });

  it("counts interaction items the items file gives no title, in the dataset and its cache", async () => {
    const cacheDir = tmpCache();
    const files = { interactions: join(FIXTURES, "custom", "interactions.csv"), items: join(FIXTURES, "custom", "items.jsonl") };
    const ds = await loadDataset("custom", { ...files, protocol: "none", cacheDir });
    // D has an empty title, E is not in the items file
    expect(ds.untitledItems).toEqual({ count: 2, examples: ["D", "E"] });
    expect((await loadDataset("custom", { ...files, protocol: "none", cacheDir })).untitledItems).toEqual({ count: 2, examples: ["D", "E"] });
    expect((await loadDataset("custom", { interactions: files.interactions, protocol: "none", cacheDir })).untitledItems).toBeUndefined();
  });

  it("refuses an items file that shares no id with the interactions, naming both files with example ids", async () => {
    const dir = tmpCache();
    const interactions = join(dir, "log.csv");
    const items = join(dir, "items.csv");
    writeFileSync(interactions, "user,item,timestamp\n" + ["1", "2", "3", "4"].map((it, t) => `u1,${it},${t}`).join("\n") + "\n");
    writeFileSync(items, "id,title\n001,One\n002,Two\n003,Three\n004,Four\n");
    const err = await loadDataset("custom", { interactions, items, protocol: "none", cacheDir: join(dir, "c") }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "RECLM_ERR_BAD_DATASET", location: { file: items } });
    expect((err as Error).message).toContain(interactions);
    expect((err as Error).message).toMatch(/interactions: "1", "2", "3"; items file: "001", "002", "003"/);
  });

  it("names unknown datasets and protocols", async () => {
    await expect(loadDataset("nope")).rejects.toMatchObject({ code: "RECLM_ERR_UNKNOWN_DATASET" });
    await expect(loadDataset("embedded", { protocol: "lrurec" })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
    await expect(loadDataset("custom", { cacheDir: tmpCache() })).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
  });
});
