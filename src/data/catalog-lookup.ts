/**
 * Finding catalog items by what a person types: a title (case and spacing ignored) or the item's own id. A title that
 * is not in the catalog is an error naming it, with the closest titles as suggestions; a title shared by several
 * items is an error listing their ids.
 */
import type { Catalog, ItemId } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

export function normalizeTitle(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

function words(s: string): Set<string> {
  return new Set(normalizeTitle(s).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0));
}

export class CatalogLookup {
  private readonly byTitle = new Map<string, ItemId[]>();
  private readonly rawIds = new Map<string, ItemId>();

  constructor(readonly catalog: Catalog) {
    for (let i = 1; i <= catalog.size; i++) {
      const it = catalog.items[i];
      const key = normalizeTitle(it.title);
      const list = this.byTitle.get(key);
      if (list) list.push(i);
      else this.byTitle.set(key, [i]);
      this.rawIds.set(it.rawId, i);
    }
  }

  /** Items whose title contains every word of `query` (all items for an empty query), best first: shorter titles. */
  search(query: string, limit: number): ItemId[] {
    const q = [...words(query)];
    const out: ItemId[] = [];
    for (let i = 1; i <= this.catalog.size && out.length < limit * 20; i++) {
      const t = normalizeTitle(this.catalog.items[i].title);
      if (q.every((w) => t.includes(w))) out.push(i);
    }
    return out.sort((a, b) => this.catalog.items[a].title.length - this.catalog.items[b].title.length || a - b).slice(0, limit);
  }

  /** The item with this title, or a ReclmError naming the title (with suggestions) or the ids sharing it. */
  byTitleOrThrow(title: string, field = "history"): ItemId {
    const ids = this.byTitle.get(normalizeTitle(title));
    if (ids && ids.length === 1) return ids[0];
    if (ids) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${title}" is the title of ${ids.length} items (ids ${ids.map((i) => this.catalog.items[i].rawId).join(", ")}): give the id instead`, { field });
    }
    const suggestions = this.closest(title, 3).map((i) => `"${this.catalog.items[i].title}"`);
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `no item titled "${title}"${suggestions.length ? ` (closest: ${suggestions.join(", ")})` : ""}`, { field });
  }

  /** The item with this id of the source data (the user's own id, not reclm's dense id). */
  byRawId(rawId: string): ItemId | undefined {
    return this.rawIds.get(rawId);
  }

  /** Titles sharing the most words with `title` (Jaccard), best first. */
  closest(title: string, n: number): ItemId[] {
    const w = words(title);
    if (w.size === 0) return [];
    const scored: { i: ItemId; s: number }[] = [];
    for (let i = 1; i <= this.catalog.size; i++) {
      const v = words(this.catalog.items[i].title);
      let common = 0;
      for (const x of w) if (v.has(x)) common++;
      if (common > 0) scored.push({ i, s: common / (w.size + v.size - common) });
    }
    return scored.sort((a, b) => b.s - a.s || a.i - b.i).slice(0, n).map((x) => x.i);
  }
}
