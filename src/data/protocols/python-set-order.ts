/**
 * The order in which CPython iterates `set(values)` for non-negative integers, given the order they were added.
 *
 * LlamaRec's and LRURec's preprocessing number items by `enumerate(set(df['sid']))` and then sort each user's
 * history by (timestamp, that number), so among ratings with one timestamp the item that comes last (the test item,
 * or the validation item) is decided by this order. For integer ids it is deterministic (an int hashes to itself;
 * only str hashes are salted per process), so reclm can reproduce the authors' split exactly: 91 of ml-latest-small's
 * 610 users have a tie at their last timestamp.
 *
 * Emulates Objects/setobject.c (identical in CPython 3.8-3.11, checked against all four): an open-addressing table of
 * 2^k slots starting at 8; an entry probes slot h & mask and the 9 after it (when they fit before the end), then jumps
 * to (i*5 + 1 + perturb) & mask with perturb = h >> 5 per jump; the table grows to the smallest power of two above
 * 4·used (2·used past 50,000) once fill·5 >= mask·3, re-inserting entries in slot order; iteration is slot order.
 */
import { ReclmError } from "../../errors.ts";

const MIN_SIZE = 8;
const LINEAR_PROBES = 9;
const PERTURB_SHIFT = 5;

/** The values of `set(values)` in CPython's iteration order (duplicates dropped). */
export function pythonIntSetOrder(values: Iterable<number>): number[] {
  let table = new Float64Array(MIN_SIZE).fill(-1);
  let mask = MIN_SIZE - 1;
  let used = 0;
  const seen = new Set<number>();

  const findFree = (t: Float64Array, m: number, h: number): number => {
    let perturb = h;
    let i = h % (m + 1);
    for (;;) {
      if (t[i] < 0) return i;
      if (i + LINEAR_PROBES <= m) {
        for (let j = 1; j <= LINEAR_PROBES; j++) if (t[i + j] < 0) return i + j;
      }
      perturb = Math.floor(perturb / 2 ** PERTURB_SHIFT);
      i = (i * 5 + 1 + perturb) % (m + 1);
    }
  };

  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new ReclmError("RECLM_ERR_INTERNAL", `pythonIntSetOrder takes non-negative safe integers, got ${v}`);
    }
    // Equal ints have equal hashes and are found on the probe path before any free slot: a duplicate changes nothing.
    if (seen.has(v)) continue;
    seen.add(v);
    table[findFree(table, mask, v)] = v;
    used++;
    if (used * 5 >= mask * 3) {
      const minUsed = used > 50000 ? used * 2 : used * 4;
      let size = MIN_SIZE;
      while (size <= minUsed) size *= 2;
      const next = new Float64Array(size).fill(-1);
      for (const x of table) if (x >= 0) next[findFree(next, size - 1, x)] = x;
      table = next;
      mask = size - 1;
    }
  }
  const out: number[] = [];
  for (const x of table) if (x >= 0) out.push(x);
  return out;
}
