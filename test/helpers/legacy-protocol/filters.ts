/**
 * Row filters over a RawLog. Each takes and returns a keep-mask (1 = row kept) so filters compose without copying
 * the log; a row once dropped stays dropped.
 */
import type { RawData, RawLog } from "../../../src/data/raw.ts";

export type KeepMask = Uint8Array;

export function keepAll(log: RawLog): KeepMask {
  return new Uint8Array(log.length).fill(1);
}

/** LlamaRec: interactions with items lacking a non-empty title are dropped before any k-core. */
export function keepTitledItems(raw: RawData, keep: KeepMask): KeepMask {
  const { log } = raw;
  const titled = new Uint8Array(log.itemIds.length);
  for (let c = 0; c < log.itemIds.length; c++) {
    const title = raw.items.get(log.itemIds[c])?.title;
    titled[c] = title !== undefined && title.trim().length > 0 ? 1 : 0;
  }
  const out = keep.slice();
  for (let k = 0; k < log.length; k++) if (!titled[log.item[k]]) out[k] = 0;
  return out;
}

/**
 * LRURec's remove_immediate_repeats: in FILE order (pandas `df.shift()`), a row repeating the previous kept row's
 * (user, item) pair is dropped. It runs before the k-core, on the file order, not on the time-sorted sequence.
 */
export function removeImmediateRepeats(log: RawLog, keep: KeepMask): KeepMask {
  const out = keep.slice();
  let prev = -1;
  for (let k = 0; k < log.length; k++) {
    if (!out[k]) continue;
    if (prev >= 0 && log.user[prev] === log.user[k] && log.item[prev] === log.item[k]) out[k] = 0;
    else prev = k;
  }
  return out;
}

function counts(codes: Int32Array, size: number, keep: KeepMask): Int32Array {
  const c = new Int32Array(size);
  for (let k = 0; k < codes.length; k++) if (keep[k]) c[codes[k]]++;
  return c;
}

function dropBelow(codes: Int32Array, size: number, keep: KeepMask, min: number): number {
  const c = counts(codes, size, keep);
  let dropped = 0;
  for (let k = 0; k < codes.length; k++) {
    if (keep[k] && c[codes[k]] < min) {
      keep[k] = 0;
      dropped++;
    }
  }
  return dropped;
}

/**
 * LRURec's filter_triplets: ONE pass, items with < minItem rows first, then users with < minUser rows.
 * Afterwards an item may again have fewer than minItem rows; that is the published protocol.
 */
export function kcoreSinglePass(log: RawLog, keep: KeepMask, minUser = 5, minItem = 5): KeepMask {
  const out = keep.slice();
  if (minItem > 0) dropBelow(log.item, log.itemIds.length, out, minItem);
  if (minUser > 0) dropBelow(log.user, log.userIds.length, out, minUser);
  return out;
}

/**
 * LlamaRec's filter_triplets: items then users, repeated until no row is dropped. The fixed point is the unique
 * maximal (minUser, minItem)-core, so the iteration order does not change the result.
 */
export function kcoreIterative(log: RawLog, keep: KeepMask, minUser = 5, minItem = 5): KeepMask {
  const out = keep.slice();
  for (;;) {
    const dropped =
      dropBelow(log.item, log.itemIds.length, out, minItem) + dropBelow(log.user, log.userIds.length, out, minUser);
    if (dropped === 0) return out;
  }
}
