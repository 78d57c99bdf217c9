/**
 * The catalog as the service's clients see it: items by the dataset's own ids (never reclm's dense ids), exact title
 * lookup, and title search (src/data/catalog-lookup.ts, shared with the CLI). Built once per dataset; read-only
 * afterwards, so any number of requests share it.
 */
import type { ItemInfo, SequenceDataset } from "../contracts.ts";
import { CatalogLookup } from "../data/catalog-lookup.ts";

/** An item as the API returns it. */
export interface ApiItem {
  id: string;
  title: string;
  text?: string;
  attributes?: Record<string, string | string[]>;
}

export class CatalogIndex {
  /** Interactions per item over every user's whole history: orders search results and the empty query. */
  readonly popularity: Float64Array;
  /** Titles and ids as people type them: the same lookup `reclm recommend` uses. */
  readonly lookup: CatalogLookup;

  constructor(private readonly ds: SequenceDataset) {
    this.popularity = new Float64Array(ds.catalog.size + 1);
    for (let u = 0; u < ds.users.length; u++) {
      for (const i of ds.train[u]) this.popularity[i]++;
      if (ds.val[u] > 0) this.popularity[ds.val[u]]++;
      if (ds.test[u] > 0) this.popularity[ds.test[u]]++;
    }
    this.lookup = new CatalogLookup(ds.catalog, this.popularity);
    this.lookup.prepareSuggestions();
  }

  get size(): number {
    return this.ds.catalog.size;
  }

  /** The dense id of a raw id, or undefined. */
  idOf(rawId: string): number | undefined {
    return this.lookup.byRawId(rawId);
  }

  /** Dense ids whose title equals `title` after normalization (several when a catalog repeats a title). */
  idsWithTitle(title: string): readonly number[] {
    return this.lookup.idsWithTitle(title);
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

  /** Items whose title holds every word of the query, best first (CatalogLookup.search, by popularity). */
  search(query: string, limit: number): number[] {
    return this.lookup.search(query, limit);
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
