/**
 * The in-memory layout of a prepared split: ONE Int32Array holding every user's chronological items back to back
 * (train items, then the validation item, then the test item) and per-user offsets into it. `train[u]` is a
 * subarray view (no copy), `val` and `test` are gathered once; there is never one JavaScript object per interaction.
 */
import type { Catalog, SequenceDataset, UntitledItems } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

export interface PackedSequences {
  /** Items of user u are items[offsets[u] .. offsets[u + 1]); each user has >= 2 (a validation and a test item). */
  items: Int32Array;
  /** users + 1 entries, offsets[0] = 0, non-decreasing. */
  offsets: Int32Array;
}

export interface SplitMeta {
  name: string;
  protocol: string;
  catalog: Catalog;
  users: readonly string[];
  untitledItems?: UntitledItems;
}

export function datasetFromPacked(meta: SplitMeta, packed: PackedSequences): SequenceDataset {
  const { items, offsets } = packed;
  const n = meta.users.length;
  if (offsets.length !== n + 1 || offsets[0] !== 0 || offsets[n] !== items.length) {
    throw new ReclmError("RECLM_ERR_INTERNAL", `packed split: ${offsets.length} offsets for ${n} users over ${items.length} items`);
  }
  const train = new Array<Int32Array>(n);
  const val = new Int32Array(n);
  const test = new Int32Array(n);
  for (let u = 0; u < n; u++) {
    const end = offsets[u + 1];
    if (end - offsets[u] < 2) throw new ReclmError("RECLM_ERR_INTERNAL", `packed split: user ${u} has ${end - offsets[u]} items, fewer than 2`);
    train[u] = items.subarray(offsets[u], end - 2);
    val[u] = items[end - 2];
    test[u] = items[end - 1];
  }
  return {
    name: meta.name,
    protocol: meta.protocol,
    catalog: meta.catalog,
    users: meta.users,
    train,
    val,
    test,
    ...(meta.untitledItems ? { untitledItems: meta.untitledItems } : {}),
  };
}

/** Prefix sums of per-user counts (Int32: up to 2^31 - 1 interactions in all). */
export function offsetsFromCounts(counts: Int32Array): Int32Array {
  const offsets = new Int32Array(counts.length + 1);
  let total = 0;
  for (let u = 0; u < counts.length; u++) {
    total += counts[u];
    if (total > 0x7fffffff) throw new ReclmError("RECLM_ERR_OUT_OF_MEMORY", `a split of more than ${0x7fffffff} interactions does not fit reclm's Int32 layout`);
    offsets[u + 1] = total;
  }
  return offsets;
}

/**
 * A dataset's split in the packed layout: its own arrays when its train views already are one (a split reclm
 * prepared: train[u], then val[u] and test[u], back to back in one buffer), else a packed copy.
 */
export function packedOf(ds: SequenceDataset): PackedSequences {
  const n = ds.users.length;
  const offsets = new Int32Array(n + 1);
  for (let u = 0; u < n; u++) offsets[u + 1] = offsets[u] + ds.train[u].length + 2;
  const total = offsets[n];
  const first = ds.train[0];
  if (n > 0 && first) {
    const base = first.byteOffset / 4;
    const all = new Int32Array(first.buffer, first.byteOffset, Math.min(total, first.buffer.byteLength / 4 - base));
    let packed = all.length === total;
    for (let u = 0; packed && u < n; u++) {
      const t = ds.train[u];
      const end = offsets[u + 1];
      packed = t.buffer === first.buffer && t.byteOffset / 4 - base === offsets[u] && all[end - 2] === ds.val[u] && all[end - 1] === ds.test[u];
    }
    if (packed) return { items: all, offsets };
  }
  const items = new Int32Array(total);
  for (let u = 0; u < n; u++) {
    items.set(ds.train[u], offsets[u]);
    items[offsets[u + 1] - 2] = ds.val[u];
    items[offsets[u + 1] - 1] = ds.test[u];
  }
  return { items, offsets };
}
