import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeWithShared } from "../helpers/shared.ts";
import { datasetStats, historyFor, loadDataset } from "../../src/data/index.ts";
import type { SequenceDataset } from "../../src/contracts.ts";

const cacheDir = mkdtempSync(join(tmpdir(), "reclm-real-"));

function checkShape(ds: SequenceDataset): void {
  const N = ds.catalog.size;
  expect(ds.catalog.items.length).toBe(N + 1);
  expect(ds.train.length).toBe(ds.users.length);
  for (let u = 0; u < ds.users.length; u += 97) {
    for (const i of historyFor(ds, u, "test")) expect(i >= 1 && i <= N).toBe(true);
    expect(ds.test[u] >= 1 && ds.test[u] <= N).toBe(true);
  }
  for (let i = 1; i <= N; i += 101) expect(ds.catalog.items[i].title.length).toBeGreaterThan(0);
}

describeWithShared("ml-latest-small under llamarec (LlamaRec Table 2 'ML-100k')", ["data", "ml-latest-small", "ratings.csv"], (path) => {
  it("has 610 users, 3,650 items, avg length 147.99", async () => {
    const ds = await loadDataset("ml-latest-small", { dataDir: join(path, ".."), cacheDir });
    const st = datasetStats(ds);
    expect(st).toMatchObject({ users: 610, items: 3650, interactions: 90274 });
    expect(st.avgLength.toFixed(2)).toBe("147.99");
    checkShape(ds);
    const byRaw = new Map(ds.catalog.items.map((it) => [it.rawId, it]));
    expect(byRaw.get("50")?.title).toBe("The Usual Suspects (1995)");
    expect(byRaw.get("1")?.attributes?.genres).toContain("Animation");
    // The cached copy is equal.
    expect(await loadDataset("ml-latest-small", { dataDir: join(path, ".."), cacheDir })).toEqual(ds);
    // Every history, in order, is the one LlamaRec's preprocessing makes: equal timestamps ordered by CPython's set()
    // numbering (`python3 bench/reference/llamarec_split.py ratings.csv out.json` prints this digest).
    const lines = ds.users.map((user, u) => `${user}:${[...ds.train[u], ds.val[u], ds.test[u]].map((i) => ds.catalog.items[i].rawId).join(",")}`);
    expect(createHash("sha256").update(lines.join("\n")).digest("hex")).toBe("625262d99d775d329ae3594dcd62ba8020d3fe3f3cc0f03ca219067986ae9ee0");
  }, 30_000);
});

describeWithShared("ml-1m lrurec-preprocessed (LRURec's published split)", ["data", "ml-1m", "lrurec", "dataset.json"], (path) => {
  it("has 6,040 users, 3,416 items, 999,611 interactions and LRURec's own sid numbering", async () => {
    const ds = await loadDataset("ml-1m", { dataDir: join(path, "..", ".."), cacheDir });
    expect(ds.protocol).toBe("lrurec-preprocessed");
    expect(datasetStats(ds)).toMatchObject({ users: 6040, items: 3416, interactions: 999611 });
    checkShape(ds);
    // smap maps MovieID 1193 to some sid; our item with that sid must carry rawId 1193 and its movies.dat title.
    const item = ds.catalog.items.find((it) => it.rawId === "1193");
    expect(item?.title).toBe("One Flew Over the Cuckoo's Nest (1975)");
    expect(ds.users[0]).toBe("1");
  }, 30_000);
});

for (const [name, users, items, inter] of [
  ["beauty", 22332, 12086, 198215],
  ["games", 15264, 7676, 147861],
] as const) {
  describeWithShared(`${name} llamarec-preprocessed (LlamaRec's published split)`, ["data", name, "llamarec", "dataset.json"], (path) => {
    it(`has ${users} users, ${items} items, ${inter} interactions`, async () => {
      const ds = await loadDataset(name, { dataDir: join(path, "..", ".."), cacheDir });
      expect(ds.protocol).toBe("llamarec-preprocessed");
      expect(datasetStats(ds)).toMatchObject({ users, items, interactions: inter });
      checkShape(ds);
      for (const it of ds.catalog.items.slice(1)) {
        expect(it.title).not.toMatch(/[\t\n]|&amp;/);
        expect(it.title).toBe(it.title.trim());
      }
    }, 30_000);
  });
}

describeWithShared("ml-100k", ["data", "ml-100k", "u.data"], (path) => {
  it("reads 943 users / 1,682 items raw (protocol none) and the latin-1 titles", async () => {
    const ds = await loadDataset("ml-100k", { dataDir: join(path, ".."), protocol: "none", cacheDir });
    expect(datasetStats(ds)).toMatchObject({ users: 943, items: 1682, interactions: 100000 });
    const titles = ds.catalog.items.map((i) => i.title);
    expect(titles.some((t) => t.includes("é"))).toBe(true);
    expect(titles).toContain("The Usual Suspects (1995)");
    const ll = await loadDataset("ml-100k", { dataDir: join(path, ".."), cacheDir });
    expect(ll.protocol).toBe("llamarec");
    expect(datasetStats(ll).users).toBe(943);
  }, 30_000);
});
