/**
 * Finding catalog items by what a person types: a title (case, accents and spacing ignored) or the item's own id.
 * One index for every front door: `reclm recommend` and the service resolve histories and search titles through it.
 * A title that is not in the catalog is an error naming it, with the closest titles as suggestions; a title shared by
 * several items is an error listing their ids.
 */
import { distance } from "fastest-levenshtein";
import type { Catalog, ItemId } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

/** Case, accents and runs of spaces do not matter when a person types a title ("Amelie" finds "Amélie"). */
export function normalizeTitle(s: string): string {
  return s.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/g, " ").trim();
}

function words(normalized: string): string[] {
  return [...new Set(normalized.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0))];
}

/**
 * Suggestions weigh shared words (Jaccard) and spelling (1 - edit distance / longer length) equally: words alone tie
 * "Heat (1996)" between every one-word 1996 title and "Heat (1995)"; spelling alone prefers short unrelated titles.
 */
function similarity(q: string, qWords: number, t: string, tWords: number, common: number): number {
  const jaccard = common / (qWords + tWords - common);
  const spelling = 1 - distance(q, t) / Math.max(q.length, t.length, 1);
  return 0.5 * jaccard + 0.5 * spelling;
}

/** Spelling is compared with at most this many titles sharing a word with the query (those sharing the most). */
const MAX_SPELLING_CANDIDATES = 20_000;
/** A query sharing no word with any title is compared by spelling with every title up to this catalog size. */
const MAX_FULL_SCAN = 100_000;

export class CatalogLookup {
  private readonly byTitle = new Map<string, ItemId[]>();
  private readonly rawIds = new Map<string, ItemId>();
  private readonly normalized: string[];
  /** word -> items whose title has it; built on the first suggestion (only an unknown title needs it). */
  private postings?: Map<string, number[]>;
  private wordCounts?: Uint16Array;

  /**
   * @param popularity per dense id (index 0 unused): orders search results within a tier and the empty query.
   *   Without it, shorter titles first.
   */
  constructor(
    readonly catalog: Catalog,
    private readonly popularity?: ArrayLike<number>,
  ) {
    this.normalized = catalog.items.map((it) => normalizeTitle(it.title));
    for (let i = 1; i <= catalog.size; i++) {
      const key = this.normalized[i];
      const list = this.byTitle.get(key);
      if (list) list.push(i);
      else this.byTitle.set(key, [i]);
      this.rawIds.set(catalog.items[i].rawId, i);
    }
  }

  /** The item with this id of the source data (the user's own id, not reclm's dense id). */
  byRawId(rawId: string): ItemId | undefined {
    return this.rawIds.get(rawId);
  }

  /** Dense ids whose title equals `title` after normalization (several when a catalog repeats a title). */
  idsWithTitle(title: string): readonly ItemId[] {
    return this.byTitle.get(normalizeTitle(title)) ?? [];
  }

  /** The item with this title, or a ReclmError naming the title (with suggestions) or the ids sharing it. */
  byTitleOrThrow(title: string, field = "history"): ItemId {
    const ids = this.idsWithTitle(title);
    if (ids.length === 1) return ids[0];
    if (ids.length > 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `"${title}" is the title of ${ids.length} items (ids ${ids.map((i) => this.catalog.items[i].rawId).join(", ")}): give the id instead`, { field });
    }
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", this.unknownTitleMessage(title), { field });
  }

  /** `no item titled "…"`, with up to `suggest` closest titles when there are any (0: the title alone, no search). */
  unknownTitleMessage(title: string, suggest = 3): string {
    const suggestions = this.closest(title, suggest).map((i) => JSON.stringify(this.catalog.items[i].title));
    return `no item titled ${JSON.stringify(title)}${suggestions.length ? ` (closest: ${suggestions.join(", ")})` : ""}`;
  }

  /** The `n` titles most like `title` by shared words and spelling, best first (ties: the lower id). */
  closest(title: string, n: number): ItemId[] {
    const q = normalizeTitle(title);
    if (q === "" || n <= 0) return [];
    const qWords = words(q);
    const { postings, wordCounts } = this.wordIndex();
    const common = new Map<number, number>();
    for (const w of qWords) for (const i of postings.get(w) ?? []) common.set(i, (common.get(i) ?? 0) + 1);
    let candidates: [number, number][] = [...common];
    if (candidates.length > MAX_SPELLING_CANDIDATES) candidates = candidates.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, MAX_SPELLING_CANDIDATES);
    else if (candidates.length === 0 && this.catalog.size <= MAX_FULL_SCAN) candidates = Array.from({ length: this.catalog.size }, (_, k) => [k + 1, 0]);
    return candidates
      .map(([i, c]) => ({ i, s: similarity(q, qWords.length, this.normalized[i], wordCounts[i], c) }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, n)
      .map((x) => x.i);
  }

  /**
   * Items whose title holds every word of the query, best first: the exact title, then titles that start with the
   * query, then titles where every word starts a word, then the rest; within a tier the more popular item first (or
   * the shorter title without popularity). An empty query lists the most popular (or shortest-titled) items.
   */
  search(query: string, limit: number): ItemId[] {
    const q = normalizeTitle(query);
    if (q === "") {
      this.everyItemInOrder ??= Int32Array.from({ length: this.catalog.size }, (_, k) => k + 1).sort((a, b) => this.within(a, b) || a - b);
      return Array.from(this.everyItemInOrder.subarray(0, Math.max(0, limit)));
    }
    const qWords = q.split(" ");
    const hits: { id: number; tier: number }[] = [];
    for (let id = 1; id < this.normalized.length; id++) {
      const t = this.normalized[id];
      if (!qWords.every((w) => t.includes(w))) continue;
      let tier = 3;
      if (t === q) tier = 0;
      else if (t.startsWith(q)) tier = 1;
      else if (qWords.every((w) => t.startsWith(w) || t.includes(` ${w}`) || t.includes(`(${w}`))) tier = 2;
      hits.push({ id, tier });
    }
    hits.sort((a, b) => a.tier - b.tier || this.within(a.id, b.id) || a.id - b.id);
    return hits.slice(0, limit).map((h) => h.id);
  }

  /** The empty query's answer, sorted once. */
  private everyItemInOrder?: Int32Array;

  /** Within a search tier: the more popular item first, or the shorter title without popularity. */
  private within(a: number, b: number): number {
    const pop = this.popularity;
    return pop ? pop[b] - pop[a] : this.normalized[a].length - this.normalized[b].length;
  }

  /**
   * Builds the word index suggestions read now rather than on the first unknown title (a service does it while
   * loading, so no request waits for it: ~1.5 s for a million titles).
   */
  prepareSuggestions(): void {
    this.wordIndex();
  }

  private wordIndex(): { postings: Map<string, number[]>; wordCounts: Uint16Array } {
    if (!this.postings || !this.wordCounts) {
      const postings = new Map<string, number[]>();
      const wordCounts = new Uint16Array(this.catalog.size + 1);
      for (let i = 1; i <= this.catalog.size; i++) {
        const ws = words(this.normalized[i]);
        wordCounts[i] = Math.min(ws.length, 65_535);
        for (const w of ws) {
          const list = postings.get(w);
          if (list) list.push(i);
          else postings.set(w, [i]);
        }
      }
      this.postings = postings;
      this.wordCounts = wordCounts;
    }
    return { postings: this.postings, wordCounts: this.wordCounts };
  }
}
