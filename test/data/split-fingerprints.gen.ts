/**
 * Writes test/data/fixtures/split-fingerprints.json: the fingerprint of every split in test/helpers/split-cases.ts as
 * the code at HEAD makes it. Run once at the last commit before the DuckDB data path (recorded in the file), so
 * test/data/same-split.test.ts can prove the new path gives the same splits, item for item:
 *   npx tsx test/data/split-fingerprints.gen.ts
 * A case whose input files are missing is recorded with the error code the loader gave.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDataset } from "../../src/data/index.ts";
import { ReclmError } from "../../src/errors.ts";
import { writeJsonAtomic } from "../../src/io.ts";
import { entryOf, sharedCases, splitCases, type FingerprintEntry } from "../helpers/split-cases.ts";

const here = import.meta.dirname;
const work = mkdtempSync(join(tmpdir(), "reclm-fp-"));
const { cases: shared, absent } = sharedCases();
const entries: Record<string, FingerprintEntry | { error: string }> = {};
for (const c of [...splitCases(join(work, "logs"), join(here, "fixtures")), ...shared]) {
  try {
    const ds = await loadDataset(c.dataset, { ...c.options, cacheDir: join(work, "cache"), refresh: true });
    entries[c.key] = entryOf(ds);
  } catch (e) {
    if (!(e instanceof ReclmError)) throw e;
    entries[c.key] = { error: e.code };
  }
  console.log(c.key, JSON.stringify(entries[c.key]));
}
const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: here, encoding: "utf8" }).trim();
writeJsonAtomic(join(here, "fixtures", "split-fingerprints.json"), {
  commit,
  command: "npx tsx test/data/split-fingerprints.gen.ts",
  absentInShared: absent,
  entries,
});
