/**
 * The Steam data of SASRec (Kang & McAuley, ICDM'18) as LRURec-era code reads it: a reviews file with one
 * Python-literal dict per line ('username', 'product_id', 'date' as YYYY-MM-DD; other keys ignored), and a games
 * metadata file of Python-literal dicts ('id', 'app_name' or 'title', optional 'genres'/'tags'/'developer').
 * Both may be gzipped.
 */
import { RawLogBuilder, type RawData, type RawItemMeta } from "../raw.ts";
import { asDict, parseLiteralLine } from "./amazon.ts";
import type { PyValue } from "./pyliteral.ts";
import { describe, fieldError, idValue, nonEmptyLines, readText } from "./text.ts";

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function strings(v: PyValue | undefined): string[] {
  if (typeof v === "string") return v.trim() ? [v.trim()] : [];
  if (Array.isArray(v)) return v.flatMap((x) => strings(x));
  return [];
}

export function loadSteamGames(file: string): Map<string, RawItemMeta> {
  const items = new Map<string, RawItemMeta>();
  for (const { line, text } of nonEmptyLines(readText(file, "utf8"))) {
    const d = asDict(parseLiteralLine(text, file, line), file, line);
    // A few games in the real file lack an id; they cannot be joined to reviews, so skip them.
    if (d.id === undefined || d.id === null) continue;
    const id = idValue(d.id, { file, line, field: "id" });
    const name = d.app_name ?? d.title;
    const meta: RawItemMeta = {};
    if (name !== undefined && name !== null) {
      if (typeof name !== "string") throw fieldError(`expected a string, got ${describe(name)}`, { file, line, field: d.app_name !== undefined ? "app_name" : "title" });
      if (name.trim()) meta.title = name.trim();
    }
    const attributes: Record<string, string | string[]> = {};
    const genres = strings(d.genres);
    if (genres.length) attributes.genres = genres;
    const tags = strings(d.tags);
    if (tags.length) attributes.tags = tags;
    if (typeof d.developer === "string" && d.developer.trim()) attributes.developer = d.developer.trim();
    if (Object.keys(attributes).length) meta.attributes = attributes;
    items.set(id, meta);
  }
  return items;
}

export function loadSteamReviews(file: string): RawLogBuilder {
  const log = new RawLogBuilder(false);
  for (const { line, text } of nonEmptyLines(readText(file, "utf8"))) {
    const d = asDict(parseLiteralLine(text, file, line), file, line);
    const user = idValue(d.username, { file, line, field: "username" });
    const item = idValue(d.product_id, { file, line, field: "product_id" });
    const date = d.date;
    const m = typeof date === "string" ? DATE.exec(date) : null;
    const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : Number.NaN;
    // Date.UTC rolls 2017-02-31 over into March; reject such dates instead.
    if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]) {
      throw fieldError(`expected a date YYYY-MM-DD, got ${describe(date ?? null)}`, { file, line, field: "date" });
    }
    log.push(user, item, ms / 1000);
  }
  return log;
}

export function loadSteamRaw(reviewsFile: string, gamesFile: string): RawData {
  const items = loadSteamGames(gamesFile);
  return { log: loadSteamReviews(reviewsFile).build(), items };
}
