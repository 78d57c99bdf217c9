/**
 * The embedded synthetic dataset: a movie-like catalog and user sequences generated from a seed, so reclm runs
 * (and CI tests) with no download. The generative story is documented in README.md beside this file; in short,
 * a user's next item depends on the previous one (series continuation, related-item transitions, a sticky
 * genre), on the user's taste and on popularity, so sequential models have something real to learn.
 */
import { Rng } from "../../rng.ts";
import { RawLogBuilder, type RawData, type RawItemMeta } from "../raw.ts";

export interface EmbeddedConfig {
  seed: number;
  standaloneItems: number;
  series: number;
  users: number;
  /** Sequence length = minLength + Exp(meanExtraLength), capped at maxLength. */
  minLength: number;
  meanExtraLength: number;
  maxLength: number;
  /** P(next part of the series, when one is left). */
  pSeries: number;
  /** P(a related item of the previous one). */
  pRelated: number;
  /** P(keeping the current genre) when drawing by taste. */
  pStickyGenre: number;
}

export const EMBEDDED_CONFIG: EmbeddedConfig = {
  seed: 20240229,
  standaloneItems: 520,
  series: 80,
  users: 1500,
  minLength: 10,
  meanExtraLength: 16,
  maxLength: 80,
  pSeries: 0.6,
  pRelated: 0.35,
  pStickyGenre: 0.75,
};

const GENRES = [
  "Drama", "Comedy", "Thriller", "Sci-Fi", "Romance", "Horror",
  "Animation", "Documentary", "Adventure", "Mystery", "Fantasy", "Western",
];
const ADJECTIVES = [
  "Silent", "Crimson", "Hidden", "Broken", "Golden", "Last", "Midnight", "Frozen", "Burning", "Lost",
  "Wild", "Quiet", "Electric", "Hollow", "Distant", "Secret", "Iron", "Velvet", "Restless", "Pale",
  "Forgotten", "Shining", "Bitter", "Endless", "Northern", "Savage", "Gentle", "Stolen", "Crooked", "Radiant",
];
const NOUNS = [
  "Harbor", "Garden", "Empire", "River", "Station", "Kingdom", "Signal", "Mirror", "Orchard", "Frontier",
  "Lantern", "Island", "Highway", "Carnival", "Tower", "Valley", "Machine", "Summer", "Winter", "Voyage",
  "Letter", "Circus", "Forest", "Planet", "Detective", "Orchestra", "Desert", "Cathedral", "Pilot", "Shadow",
];
const PLACES = ["Avalon", "Brightwater", "Kessler Bay", "Marrow Hill", "Old Vienna", "Red Mesa", "Saint Clare", "Tamsin"];
const PARTS = ["", " Part II", " Part III", " Part IV"];

interface Item {
  title: string;
  genres: string[];
  year: number;
  seriesName?: string;
  part: number;
  next: number; // index of the next part, -1 if none
  first: number; // index of the series' first part (self when standalone)
  pop: number;
  related: number[];
}

function baseTitles(rng: Rng, count: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < count) {
    const a = ADJECTIVES[rng.int(0, ADJECTIVES.length)];
    const n = NOUNS[rng.int(0, NOUNS.length)];
    const form = rng.int(0, 4);
    const t =
      form === 0 ? `The ${a} ${n}` :
      form === 1 ? `${a} ${n}` :
      form === 2 ? `The ${n} of ${PLACES[rng.int(0, PLACES.length)]}` :
      `${a} ${n}s`;
    if (!seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}

function buildCatalog(rng: Rng, cfg: EmbeddedConfig): Item[] {
  const bases = baseTitles(rng, cfg.standaloneItems + cfg.series);
  const items: Item[] = [];
  const pickGenres = (): string[] => {
    const g = [GENRES[rng.int(0, GENRES.length)]];
    if (rng.next() < 0.45) {
      const s = GENRES[rng.int(0, GENRES.length)];
      if (s !== g[0]) g.push(s);
    }
    return g;
  };
  for (let s = 0; s < cfg.series; s++) {
    const parts = rng.int(2, 5);
    const genres = pickGenres();
    let year = rng.int(1970, 2012);
    const first = items.length;
    for (let p = 0; p < parts; p++) {
      items.push({
        title: `${bases[s]}${PARTS[p]}`,
        genres,
        year,
        seriesName: bases[s],
        part: p + 1,
        next: p + 1 < parts ? items.length + 1 : -1,
        first,
        pop: 0,
        related: [],
      });
      year += rng.int(1, 5);
    }
  }
  for (let k = 0; k < cfg.standaloneItems; k++) {
    const idx = items.length;
    items.push({ title: bases[cfg.series + k], genres: pickGenres(), year: rng.int(1950, 2024), part: 0, next: -1, first: idx, pop: 0, related: [] });
  }
  // Interleave series and standalone titles in id order so ids carry no hint of structure.
  const order = rng.shuffle(items.map((_, i) => i)) as number[];
  const newIndex = new Int32Array(items.length);
  order.forEach((old, i) => (newIndex[old] = i));
  const shuffled = order.map((old) => {
    const it = items[old];
    return { ...it, next: it.next < 0 ? -1 : newIndex[it.next], first: newIndex[it.first] };
  });

  // Zipf popularity over a random rank; later parts of a series are less popular than the first.
  const rank = rng.shuffle(shuffled.map((_, i) => i)) as number[];
  rank.forEach((itemIdx, r) => {
    const it = shuffled[itemIdx];
    it.pop = (1 / Math.pow(r + 3, 0.9)) * Math.pow(0.6, Math.max(0, it.part - 1));
  });

  // Related items: same primary genre, close in year; they model "people who watched X next watched Y".
  const byGenre = new Map<string, number[]>();
  shuffled.forEach((it, i) => {
    const list = byGenre.get(it.genres[0]) ?? [];
    list.push(i);
    byGenre.set(it.genres[0], list);
  });
  shuffled.forEach((it, i) => {
    const pool = (byGenre.get(it.genres[0]) ?? []).filter((j) => j !== i && shuffled[j].first !== it.first);
    pool.sort((a, b) => Math.abs(shuffled[a].year - it.year) - Math.abs(shuffled[b].year - it.year) || a - b);
    const near = pool.slice(0, 12);
    rng.shuffle(near);
    it.related = near.slice(0, 4);
  });
  return shuffled;
}

/** Draws an index with probability proportional to weights (linear scan; the catalog is small). */
function drawWeighted(rng: Rng, candidates: readonly number[], weight: (i: number) => number): number {
  let total = 0;
  for (const c of candidates) total += weight(c);
  if (total <= 0) return -1;
  let x = rng.next() * total;
  for (const c of candidates) {
    x -= weight(c);
    if (x < 0) return c;
  }
  return candidates[candidates.length - 1];
}

export function generateEmbedded(cfg: EmbeddedConfig = EMBEDDED_CONFIG): RawData {
  const rng = new Rng(cfg.seed);
  const items = buildCatalog(rng.fork(), cfg);
  const all = items.map((_, i) => i);
  const byGenre = new Map<string, number[]>();
  items.forEach((it, i) => {
    for (const g of it.genres) {
      const list = byGenre.get(g) ?? [];
      list.push(i);
      byGenre.set(g, list);
    }
  });

  const log = new RawLogBuilder(false);
  const userRng = rng.fork();
  for (let u = 0; u < cfg.users; u++) {
    const r = userRng.fork();
    const favourites = (r.shuffle([...GENRES]) as string[]).slice(0, 3);
    const taste = new Map<string, number>(GENRES.map((g) => [g, 0.1 / GENRES.length]));
    [0.5, 0.25, 0.15].forEach((w, k) => taste.set(favourites[k], (taste.get(favourites[k]) ?? 0) + w));
    const drawGenre = () => GENRES[drawWeighted(r, GENRES.map((_, i) => i), (i) => taste.get(GENRES[i])!)];

    const length = Math.min(cfg.maxLength, cfg.minLength + Math.floor(-Math.log(1 - r.next()) * cfg.meanExtraLength));
    const seen = new Uint8Array(items.length);
    let genre = drawGenre();
    let prev = -1;
    let time = 1_500_000_000 + r.int(0, 100_000_000);
    for (let step = 0; step < length; step++) {
      let next = -1;
      if (prev >= 0) {
        const p = items[prev];
        if (p.next >= 0 && !seen[p.next] && r.next() < cfg.pSeries) next = p.next;
        else if (r.next() < cfg.pRelated) {
          const open = p.related.filter((j) => !seen[j]);
          if (open.length > 0) next = open[r.int(0, open.length)];
        }
      }
      if (next < 0) {
        if (r.next() >= cfg.pStickyGenre) genre = drawGenre();
        next = drawWeighted(r, byGenre.get(genre) ?? all, (i) => (seen[i] ? 0 : items[i].pop));
        if (next < 0) next = drawWeighted(r, all, (i) => (seen[i] ? 0 : items[i].pop));
        if (next < 0) break;
        // People start a series at its beginning: jump back to the earliest part not yet watched.
        for (let j = items[next].first; j >= 0 && j !== next; j = items[j].next) {
          if (!seen[j]) {
            next = j;
            break;
          }
        }
      }
      seen[next] = 1;
      genre = items[next].genres[0];
      time += r.int(3_600, 864_000);
      log.push(String(u + 1), String(next + 1), time);
      prev = next;
    }
  }

  const meta = new Map<string, RawItemMeta>();
  items.forEach((it, i) => {
    const attributes: Record<string, string | string[]> = { genres: it.genres, year: String(it.year) };
    if (it.seriesName) {
      attributes.series = it.seriesName;
      attributes.part = String(it.part);
    }
    const kind = it.genres.join("/").toLowerCase();
    const text = it.seriesName
      ? `A ${it.year} ${kind} film, part ${it.part} of the "${it.seriesName}" series.`
      : `A ${it.year} ${kind} film.`;
    meta.set(String(i + 1), { title: `${it.title} (${it.year})`, text, attributes });
  });
  return { log: log.build(), items: meta };
}
