import type { SequenceDataset } from "../../contracts.ts";
import type { DuckOptions } from "../duck/connection.ts";
import { prepareRaw } from "../prepare.ts";
import { canonicalSort } from "../protocols/canonical.ts";
import { buildCatalog } from "../protocols/catalog.ts";
import type { Catalog } from "../../contracts.ts";
import { EMBEDDED_CONFIG, generateEmbedded, type EmbeddedConfig } from "./generator.ts";

/** The embedded dataset under protocol `embedded`: already clean (no k-core: the `none` SQL), leave-one-out split. */
export async function buildEmbedded(cfg: EmbeddedConfig = EMBEDDED_CONFIG, duck?: DuckOptions): Promise<SequenceDataset> {
  if (cfg === EMBEDDED_CONFIG) {
    // Generation takes a few hundred ms and every test suite loads it: keep one copy, hand out fresh arrays.
    memo ??= generate(cfg, duck);
    return copy(await memo);
  }
  return generate(cfg, duck);
}

let memo: Promise<SequenceDataset> | undefined;

function generate(cfg: EmbeddedConfig, duck?: DuckOptions): Promise<SequenceDataset> {
  return prepareRaw(generateEmbedded(cfg), { name: "embedded", protocol: "embedded", sql: "none" }, duck);
}

/**
 * The embedded catalog without preparing the split (synchronous, for tokenizer corpora): every generated item in
 * canonical order, the catalog the split has (every item has a rater; test/data/embedded.test.ts checks the two agree).
 */
export function embeddedCatalog(cfg: EmbeddedConfig = EMBEDDED_CONFIG): Catalog {
  const { items } = generateEmbedded(cfg);
  return buildCatalog(canonicalSort(items.keys()), items);
}

function copy(ds: SequenceDataset): SequenceDataset {
  return {
    ...ds,
    catalog: structuredClone(ds.catalog),
    users: [...ds.users],
    train: ds.train.map((t) => t.slice()),
    val: ds.val.slice(),
    test: ds.test.slice(),
  };
}

export { EMBEDDED_CONFIG, generateEmbedded, type EmbeddedConfig };
