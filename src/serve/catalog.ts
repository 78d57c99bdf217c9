/**
 * The catalog as the service's clients see it: items by the dataset's own ids (never reclm's dense ids), exact title
 * lookup, and title search. Built once per dataset; read-only afterwards, so any number of requests share it.
 */
import type { ItemInfo, SequenceDataset } from "../contracts.ts";

/** An item as the API returns it. */
export interface ApiItem {
  id: string;
  title: string;
  text?: string;
  attributes?: Record<string, string | string[]>;
}

/** Case, accents and runs of spaces do not matter when a person types a title. */
export function normalizeTitle(s: string): string {
  return s.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/g, " ").trim();
}

export class CatalogIndex {
  private readonly byRawId = new Map<string, number>();
  private readonly byTitle = new Map<string, number[]>();
  private readonly normalized: string[];
  /** Interactions per item over every user's whole history: orders search results and the empty query. */
  readonly popularity: Float64Array;
  private readonly byPopularity: Int32Array;

  constructor(private readonly ds: SequenceDataset) {
    const items = ds.catalog.items;
    this.normalized = items.map((it) => normalizeTitle(it.title));
    for (let id = 1; id <= ds.catalog.size; id++) {
      this.byRawId.set(items[id].rawId, id);
      const key = this.normalized[id];
      const same = this.byTitle.get(key);
      if (same) same.push(id);
      else this.byTitle.set(key, [id]);
    }
    this.popularity = new Float64Array(ds.catalog.size + 1);
    for (let u = 0; u < ds.users.length; u++) {
      for (const i of ds.train[u]) this.popularity[i]++;
      if (ds.val[u] > 0) this.popularity[ds.val[u]]++;
      if (ds.test[u] > 0) this.popularity[ds.test[u]]++;
    }
    this.byPopularity = Int32Array.from({ length: ds.catalog.size }, (_, i) => i + 1).sort((a, b) => this.popularity[b] - this.popularity[a] || a - b);
  }

  get size(): number {
    return this.ds.catalog.size;
  }

  /** The dense id of a raw id, or undefined. */
  idOf(rawId: string): number | undefined {
    return this.byRawId.get(rawId);
  }

  /** Dense ids whose title equals `title` after normalization (several when a catalog repeats a title). */
  idsWithTitle(title: string): readonly number[] {
    return this.byTitle.get(normalizeTitle(title)) ?? [];
  }

  item(id: number): ItemInfo {
    return this.ds.catalog.items[id];
  }

  api(id: number): ApiItem {
    const it = this.ds.catalog.items[id];
    const out: ApiItem = { id: it.rawId, title: it.title };
    if (it.text !== undefined) out.text = it.text;
    if (it.attributes !== undefined) out.attributes = it.attributes;
    return out;
  }

  /**
   * Items whose title holds every word of the query, best first: the exact title, then titles that start with the
   * query, then titles where every word starts a word, then the rest; within a tier the more popular item first.
   * An empty query lists the most popular items.
   */
  search(query: string, limit: number): number[] {
    const q = normalizeTitle(query);
    if (q === "") return Array.from(this.byPopularity.subarray(0, limit));
    const words = q.split(" ");
    const hits: { id: number; tier: number }[] = [];
    for (let id = 1; id < this.normalized.length; id++) {
      const t = this.normalized[id];
      if (!words.every((w) => t.includes(w))) continue;
      let tier = 3;
      if (t === q) tier = 0;
      else if (t.startsWith(q)) tier = 1;
      else if (words.every((w) => t.startsWith(w) || t.includes(` ${w}`) || t.includes(`(${w}`))) tier = 2;
      hits.push({ id, tier });
    }
    hits.sort((a, b) => a.tier - b.tier || this.popularity[b.id] - this.popularity[a.id] || a.id - b.id);
    return hits.slice(0, limit).map((h) => h.id);
  }

  /** A user's whole history in the dataset (train, validation and test items, oldest first), or undefined. */
  userHistory(rawUserId: string): Int32Array | undefined {
    const u = this.userIndex().get(rawUserId);
    if (u === undefined) return undefined;
    const train = this.ds.train[u];
    const tail = [this.ds.val[u], this.ds.test[u]].filter((i) => i > 0);
    const out = new Int32Array(train.length + tail.length);
    out.set(train);
    out.set(tail, train.length);
    return out;
  }

  private users?: Map<string, number>;
  private userIndex(): Map<string, number> {
    this.users ??= new Map(this.ds.users.map((id, u) => [id, u]));
    return this.users;
  }
}
