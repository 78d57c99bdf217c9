import { createHash } from "node:crypto";
import type { SequenceDataset } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

export interface DatasetStats {
  users: number;
  items: number;
  interactions: number;
  avgLength: number;
  density: number;
}

/** interactions = sum(train) + val + test (every user contributes exactly one val and one test item). */
export function datasetStats(ds: SequenceDataset): DatasetStats {
  const users = ds.users.length;
  const items = ds.catalog.size;
  let interactions = 0;
  for (const t of ds.train) interactions += t.length;
  interactions += ds.val.length + ds.test.length;
  return {
    users,
    items,
    interactions,
    avgLength: users > 0 ? interactions / users : 0,
    density: users > 0 && items > 0 ? interactions / (users * items) : 0,
  };
}

/** The input history for a split: val sees train; test sees train + val. */
export function historyFor(ds: SequenceDataset, user: number, split: "val" | "test"): Int32Array {
  const train = ds.train[user];
  if (train === undefined) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `user index ${user} is out of range 0..${ds.users.length - 1}`);
  if (split === "val") return train;
  const h = new Int32Array(train.length + 1);
  h.set(train);
  h[train.length] = ds.val[user];
  return h;
}

/**
 * A short digest of exactly what a model sees of a dataset: name, protocol, the catalogue's raw ids, the users and
 * every train/val/test item. A run dir records it, so a model is never evaluated or resumed on a different split
 * (other files under the same name, a changed protocol) without being told.
 */
export function splitFingerprint(ds: SequenceDataset): string {
  const h = createHash("sha256");
  h.update(`${ds.name}\n${ds.protocol}\n`);
  for (let i = 1; i <= ds.catalog.size; i++) h.update(`${ds.catalog.items[i].rawId}\n`);
  for (const user of ds.users) h.update(`${user}\n`);
  const lengths = Int32Array.from(ds.train, (t) => t.length);
  h.update(new Uint8Array(lengths.buffer));
  for (const t of ds.train) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  h.update(new Uint8Array(ds.val.buffer, ds.val.byteOffset, ds.val.byteLength));
  h.update(new Uint8Array(ds.test.buffer, ds.test.byteOffset, ds.test.byteLength));
  return h.digest("hex").slice(0, 16);
}
