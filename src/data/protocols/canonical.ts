/**
 * Canonical id order: dense ids follow ascending raw id, numerically when every raw id is a plain non-negative
 * integer, else by UTF-16 code units (never locale, never hash/set order), so a dataset gets the same ids on
 * every machine and run.
 */
const INTEGER = /^\d+$/;

/** Sorts raw ids canonically; returns a new array. */
export function canonicalSort(ids: Iterable<string>): string[] {
  const list = [...ids];
  if (list.every((s) => INTEGER.test(s))) {
    // BigInt keeps ids above 2^53 exact; ties (e.g. "01" vs "1") fall back to string order.
    return list.sort((a, b) => {
      const d = BigInt(a) - BigInt(b);
      return d < 0n ? -1 : d > 0n ? 1 : a < b ? -1 : a > b ? 1 : 0;
    });
  }
  return list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
