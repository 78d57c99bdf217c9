/**
 * The splits whose fingerprints test/data/same-split.test.ts checks against the ones reclm produced before its data
 * path moved onto DuckDB (test/data/fixtures/split-fingerprints.json, written by test/data/split-fingerprints.gen.ts at
 * the commit named there): every dataset and protocol ../shared/data holds, and seeded synthetic logs with the awkward
 * cases (equal timestamps with integer and string ids, immediate repeats, ISO dates, JSONL, an items file leaving some
 * items untitled) that run without ../shared.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SequenceDataset } from "../../src/contracts.ts";
import { datasetStats, listDatasets, splitFingerprint, type LoadDatasetOptions } from "../../src/data/index.ts";
import { writeSyntheticLog, type SyntheticLogOptions } from "../../src/data/synthetic-log.ts";

/** splitFingerprint plus everything else a consumer reads: titles, text, attributes, the untitled-items count. */
export function fullFingerprint(ds: SequenceDataset): string {
  const h = createHash("sha256");
  h.update(splitFingerprint(ds));
  h.update(JSON.stringify(ds.catalog.items));
  h.update(JSON.stringify(ds.untitledItems ?? null));
  return h.digest("hex").slice(0, 24);
}

export interface FingerprintEntry {
  fingerprint: string;
  users: number;
  items: number;
  interactions: number;
}

export function entryOf(ds: SequenceDataset): FingerprintEntry {
  const st = datasetStats(ds);
  return { fingerprint: fullFingerprint(ds), users: st.users, items: st.items, interactions: st.interactions };
}

export interface SplitCase {
  key: string;
  dataset: string;
  options: LoadDatasetOptions;
}

const SYNTHETIC: Record<string, SyntheticLogOptions & { itemsFile?: boolean }> = {
  "int-ties": { users: 300, items: 400, seed: 11, tieProb: 0.35, repeatProb: 0.04, itemsFile: true },
  "string-ids-iso-jsonl": { users: 250, items: 300, seed: 12, tieProb: 0.35, itemIdStyle: "string", timeStyle: "iso", format: "jsonl" },
  "int-items-file": { users: 200, items: 300, seed: 13, tieProb: 0.2, minPerUser: 5, maxPerUser: 40, itemsFile: true },
};

/** An items file titling most items, leaving some blank and some absent (so llamarec's title filter bites). */
function writeItemsFile(path: string, logOptions: SyntheticLogOptions): void {
  // The log's item ids for ranks 0..items-1 are 1000 + 3v over a permutation v of 0..items-1.
  const lines = ["id,title,genre"];
  for (let v = 0; v < logOptions.items; v++) {
    if (v % 11 === 0) continue; // absent
    const title = v % 7 === 0 ? "" : `Thing ${v}`;
    lines.push(`${1000 + 3 * v},${title},g${v % 3}`);
  }
  writeFileSync(path, lines.join("\n") + "\n");
}

/** Writes the synthetic logs under `dir` (once) and lists every case: synthetic ones, then those of ../shared. */
export function splitCases(dir: string, fixtures: string): SplitCase[] {
  const cases: SplitCase[] = [{ key: "embedded/embedded", dataset: "embedded", options: {} }];
  for (const [name, o] of Object.entries(SYNTHETIC)) {
    const ext = o.format === "jsonl" ? "jsonl" : "csv";
    const log = join(dir, `${name}.${ext}`);
    const items = o.itemsFile ? join(dir, `${name}-items.csv`) : undefined;
    if (!existsSync(log)) {
      mkdirSync(dir, { recursive: true });
      writeSyntheticLog(log, o);
      if (items) writeItemsFile(items, o);
    }
    for (const protocol of ["lrurec", "llamarec", "none"]) {
      cases.push({ key: `synthetic-${name}/${protocol}`, dataset: "custom", options: { interactions: log, items, protocol } });
    }
  }
  for (const protocol of ["none", "lrurec"]) {
    cases.push({
      key: `fixture-custom/${protocol}`,
      dataset: "custom",
      options: { interactions: join(fixtures, "custom", "interactions.csv"), items: join(fixtures, "custom", "items.jsonl"), protocol },
    });
  }
  for (const protocol of ["lrurec", "llamarec", "none"]) {
    cases.push({ key: `fixture-steam/${protocol}`, dataset: "steam", options: { dataDir: join(fixtures, "steam"), protocol } });
  }
  return cases;
}

/** Every (dataset, protocol) of the registry whose files ../shared/data holds; `available` says which are absent. */
export function sharedCases(): { cases: SplitCase[]; absent: string[] } {
  const cases: SplitCase[] = [];
  const absent: string[] = [];
  for (const d of listDatasets()) {
    if (d.name === "embedded" || d.name === "custom") continue;
    for (const protocol of d.protocols) {
      const key = `shared-${d.name}/${protocol}`;
      if (!d.available) absent.push(key);
      else cases.push({ key, dataset: d.name, options: { protocol } });
    }
  }
  return { cases, absent };
}
