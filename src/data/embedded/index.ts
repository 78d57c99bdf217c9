import type { SequenceDataset } from "../../contracts.ts";
import { keepAll } from "../protocols/filters.ts";
import { leaveOneOut } from "../protocols/leave-one-out.ts";
import { EMBEDDED_CONFIG, generateEmbedded, type EmbeddedConfig } from "./generator.ts";

/** The embedded dataset under protocol `embedded`: already clean (no k-core), leave-one-out split. */
export function buildEmbedded(cfg: EmbeddedConfig = EMBEDDED_CONFIG): SequenceDataset {
  if (cfg === EMBEDDED_CONFIG) {
    // Generation takes a few hundred ms and every test suite loads it: keep one copy, hand out fresh arrays.
    memo ??= generate(cfg);
    return copy(memo);
  }
  return generate(cfg);
}

let memo: SequenceDataset | undefined;

function generate(cfg: EmbeddedConfig): SequenceDataset {
  const raw = generateEmbedded(cfg);
  return leaveOneOut(raw, keepAll(raw.log), { name: "embedded", protocol: "embedded" });
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
