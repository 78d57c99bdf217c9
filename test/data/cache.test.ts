import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { dataFilesOf, loadDataset } from "../../src/data/index.ts";
import { readCachedDataset, writeCachedDataset } from "../../src/data/cache.ts";
import { packedOf } from "../../src/data/packed.ts";

function fixture(): { dir: string; file: string; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), "reclm-cache-"));
  const rows = ["user,item,timestamp"];
  // 30 users x 8 items, each user a rotated order so sequences differ.
  for (let u = 0; u < 30; u++) for (let k = 0; k < 8; k++) rows.push(`u${u},i${(u + k) % 12},${1000 + k * 10 + u}`);
  const file = join(dir, "inter.csv");
  writeFileSync(file, rows.join("\n") + "\n");
  return { dir, file, cache: join(dir, "cache") };
}

describe("prepared-dataset cache", () => {
  it("writes once, re-reads an equal dataset, and is keyed by the input file", async () => {
    const { file, cache } = fixture();
    const first = await loadDataset("custom", { interactions: file, cacheDir: cache });
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^custom-lrurec-[0-9a-f]{16}\.rds$/);
    const t0 = performance.now();
    const second = await loadDataset("custom", { interactions: file, cacheDir: cache });
    expect(performance.now() - t0).toBeLessThan(200);
    expect(second).toEqual(first);
    expect(readdirSync(cache).filter((f) => f.endsWith(".tmp"))).toHaveLength(0);

    // Changing the input changes the key: a second cache file appears.
    writeFileSync(file, readFileSync(file, "utf8") + "u0,i11,99999\n");
    const third = await loadDataset("custom", { interactions: file, cacheDir: cache });
    expect(readdirSync(cache)).toHaveLength(2);
    expect(third.test[0]).not.toBe(first.test[0]);
  });

  it("a custom dataset knows its files as absolute paths, from the cache too; a named one has none", async () => {
    const { file, cache } = fixture();
    for (let i = 0; i < 2; i++) {
      // given relative to the working directory; the second load reads the cache
      const ds = await loadDataset("custom", { interactions: relative(process.cwd(), file), cacheDir: cache });
      expect(dataFilesOf(ds)).toEqual({ interactions: file });
    }
    expect(dataFilesOf(await loadDataset("embedded"))).toBeUndefined();
  });

  it("detects truncated and corrupted files and rebuilds them", async () => {
    const { file, cache } = fixture();
    const first = await loadDataset("custom", { interactions: file, cacheDir: cache });
    const path = join(cache, readdirSync(cache)[0]);
    const size = statSync(path).size;

    truncateSync(path, size - 7);
    expect(readCachedDataset(path)).toBeUndefined();
    expect(await loadDataset("custom", { interactions: file, cacheDir: cache })).toEqual(first);
    expect(statSync(path).size).toBe(size);

    const bytes = readFileSync(path);
    bytes[Math.floor(size * 0.8)] ^= 0x55; // inside the int blob
    writeFileSync(path, bytes);
    expect(readCachedDataset(path)).toBeUndefined();
    expect(await loadDataset("custom", { interactions: file, cacheDir: cache })).toEqual(first);
    expect(readCachedDataset(path)).toEqual(first);

    writeFileSync(path, "");
    expect(readCachedDataset(path)).toBeUndefined();
  });

  it("round-trips the embedded dataset exactly", async () => {
    const ds = await loadDataset("embedded");
    const dir = mkdtempSync(join(tmpdir(), "reclm-cache-"));
    const path = join(dir, "e.rds");
    writeCachedDataset(path, dir, ds);
    expect(readCachedDataset(path)).toEqual(ds);
  });

  it("writes a prepared split from its own array and reads it back as one array of train views", async () => {
    const { file, cache } = fixture();
    const ds = await loadDataset("custom", { interactions: file, cacheDir: cache, refresh: true });
    expect(packedOf(ds).items.buffer).toBe(ds.train[0].buffer); // no copy
    const again = await loadDataset("custom", { interactions: file, cacheDir: cache });
    expect(again.train.every((t) => t.buffer === again.train[0].buffer)).toBe(true);
    // A split whose arrays are not packed (each user's its own) is packed on the way out, and equal on the way in.
    const loose = { ...ds, train: ds.train.map((t) => t.slice()) };
    expect(packedOf(loose).items.buffer).not.toBe(loose.train[0].buffer);
    const path = join(cache, "loose.rds");
    writeCachedDataset(path, cache, loose);
    expect(readCachedDataset(path)).toEqual(ds);
  });
});
