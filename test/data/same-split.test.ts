/**
 * Every split reclm makes on DuckDB is the split it made before, item for item: the fingerprints in
 * fixtures/split-fingerprints.json were written by the TypeScript data path at the commit named there
 * (test/data/split-fingerprints.gen.ts). Synthetic logs and fixtures run everywhere; every dataset and protocol of
 * ../shared/data runs where it is present. A case the old path refused must be refused with the same error code.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { loadDataset } from "../../src/data/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { describeWithShared } from "../helpers/shared.ts";
import { entryOf, sharedCases, splitCases, type FingerprintEntry, type SplitCase } from "../helpers/split-cases.ts";
import { describe } from "vitest";

const here = import.meta.dirname;
const recorded = JSON.parse(readFileSync(join(here, "fixtures", "split-fingerprints.json"), "utf8")) as {
  commit: string;
  entries: Record<string, FingerprintEntry | { error: string }>;
};
const work = mkdtempSync(join(tmpdir(), "reclm-same-split-"));

async function check(c: SplitCase): Promise<void> {
  const want = recorded.entries[c.key];
  expect(want, `no recorded fingerprint for ${c.key}`).toBeDefined();
  try {
    const ds = await loadDataset(c.dataset, { ...c.options, cacheDir: join(work, "cache"), refresh: true });
    expect(entryOf(ds), c.key).toEqual(want);
    // And the cached copy reads back as the same split.
    const again = await loadDataset(c.dataset, { ...c.options, cacheDir: join(work, "cache") });
    expect(entryOf(again), `${c.key} from the cache`).toEqual(want);
  } catch (e) {
    if (!(e instanceof ReclmError) || !("error" in want)) throw e;
    expect(e.code, c.key).toBe(want.error);
  }
}

describe(`same splits as the TypeScript data path (fingerprints of commit ${recorded.commit.slice(0, 7)})`, () => {
  const cases = splitCases(join(work, "logs"), join(here, "fixtures"));
  it.each(cases.map((c) => [c.key, c] as const))("%s", async (_key, c) => check(c), 60_000);
});

describeWithShared("same splits for every dataset and protocol in ../shared/data", ["data"], () => {
  const { cases } = sharedCases();
  it("covers every shared case recorded, and records every one it finds", () => {
    const keys = Object.keys(recorded.entries).filter((k) => k.startsWith("shared-"));
    expect(cases.map((c) => c.key).sort()).toEqual(keys.sort());
  });
  it.each(cases.map((c) => [c.key, c] as const))("%s", async (_key, c) => check(c), 120_000);
});
