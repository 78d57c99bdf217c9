/** Small models and datasets the service tests share: a hand-made catalog, a scriptable retriever, a fake ranker. */
import type { ItemInfo, Ranker, SequenceDataset, SequentialRecommender } from "../../src/contracts.ts";

/**
 * 8 items with raw ids "a".."h" (so an id is never its dense number), items 6 and 7 share a title, and 3 users.
 * Dense ids: a=1 .. h=8.
 */
export function tinyDataset(): SequenceDataset {
  const titles = ["Alpha (1990)", "Beta (1991)", "Gamma Ray (1992)", "Délta (1993)", "Epsilon (1994)", "Twin (2000)", "Twin (2000)", "Omega (1999)"];
  const items: ItemInfo[] = [{ rawId: "", title: "" }, ...titles.map((title, i) => ({ rawId: String.fromCharCode(97 + i), title }))];
  return {
    name: "tiny",
    protocol: "none",
    catalog: { size: 8, items },
    users: ["u1", "u2", "u3"],
    train: [Int32Array.of(1, 2, 3), Int32Array.of(2, 3, 4, 5), Int32Array.of(8, 1)],
    val: Int32Array.of(4, 6, 2),
    test: Int32Array.of(5, 7, 3),
  };
}

/**
 * A retriever whose scores are a known function of the history (item i scores ((last * 7 + i * 3) % 11) + i / 100,
 * all distinct), with an optional delay per forward, recording every batch it was given.
 */
export class ScriptedRetriever implements SequentialRecommender {
  readonly name = "scripted";
  readonly batches: Int32Array[][] = [];
  disposed = false;
  /** Resolves the next forward's delay early (tests that hold a forward open). */
  delayMs = 0;
  constructor(
    readonly nItems: number,
    readonly inputWindow?: number,
  ) {}

  static expected(history: Int32Array, nItems: number): Float32Array {
    const row = new Float32Array(nItems + 1);
    const last = history[history.length - 1];
    for (let i = 1; i <= nItems; i++) row[i] = ((last * 7 + i * 3) % 11) + i / 100;
    return row;
  }

  async scoreAll(histories: readonly Int32Array[]): Promise<Float32Array> {
    this.batches.push(histories.map((h) => h.slice()));
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const w = this.nItems + 1;
    const out = new Float32Array(histories.length * w);
    histories.forEach((h, b) => out.set(ScriptedRetriever.expected(h, this.nItems), b * w));
    return out;
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** A ranker that prefers lower item ids (score = -id), so its order differs from any retriever's visibly. */
export function lowIdsFirstRanker(): Ranker & { calls: Int32Array[] } {
  const calls: Int32Array[] = [];
  return {
    name: "low-ids-first",
    calls,
    async rank(_history: Int32Array, candidates: Int32Array): Promise<Float32Array> {
      calls.push(candidates.slice());
      return Float32Array.from(candidates, (c) => -c);
    },
  };
}

/** The ids (raw) a reference top-k gives: mask padding and, when asked, the history; sort by score, then id. */
export function referenceTopK(row: Float32Array, history: Int32Array, k: number, excludeSeen: boolean): number[] {
  const masked = row.slice();
  masked[0] = -Infinity;
  if (excludeSeen) for (const i of history) masked[i] = -Infinity;
  return Array.from(masked.keys())
    .filter((i) => masked[i] !== -Infinity)
    .sort((a, b) => masked[b] - masked[a] || a - b)
    .slice(0, k);
}
