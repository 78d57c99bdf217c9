/**
 * MovieLens formats: ml-latest-small (CSV, UTF-8), ML-100K (u.data tab + u.item latin-1 '|'),
 * ML-1M (ratings.dat / movies.dat, '::', latin-1). Titles are kept raw here; protocols clean them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { RawLogBuilder, type RawData, type RawItemMeta } from "../raw.ts";
import { expectColumns, headerIndex, parseCsv } from "./csv.ts";
import { intId, nonEmptyLines, number, readText, rowError } from "./text.ts";

/** ml-latest-small: ratings.csv + movies.csv (+ tags.csv joined as item text when present). */
export function loadMlLatestSmall(dir: string): RawData {
  const items = new Map<string, RawItemMeta>();
  const moviesFile = join(dir, "movies.csv");
  const movies = parseCsv(readText(moviesFile, "utf8"), moviesFile);
  const mh = headerIndex(movies[0], moviesFile, ["movieId", "title", "genres"]);
  for (const row of movies.slice(1)) {
    expectColumns(row, movies[0].fields.length, moviesFile);
    const where = { file: moviesFile, line: row.line };
    const id = intId(row.fields[mh.get("movieId")!], { ...where, field: "movieId" });
    const genres = row.fields[mh.get("genres")!].split("|").filter((g) => g.length > 0 && g !== "(no genres listed)");
    items.set(id, { title: row.fields[mh.get("title")!], attributes: genres.length ? { genres } : {} });
  }

  const tagsFile = join(dir, "tags.csv");
  if (existsSync(tagsFile)) {
    const tags = parseCsv(readText(tagsFile, "utf8"), tagsFile);
    const th = headerIndex(tags[0], tagsFile, ["movieId", "tag"]);
    const byItem = new Map<string, string[]>();
    for (const row of tags.slice(1)) {
      expectColumns(row, tags[0].fields.length, tagsFile);
      const id = intId(row.fields[th.get("movieId")!], { file: tagsFile, line: row.line, field: "movieId" });
      const tag = row.fields[th.get("tag")!].trim();
      const list = byItem.get(id) ?? [];
      if (tag && !list.includes(tag)) list.push(tag);
      byItem.set(id, list);
    }
    for (const [id, list] of byItem) {
      const meta = items.get(id);
      if (meta && list.length) meta.text = `Tags: ${list.join(", ")}`;
    }
  }

  const ratingsFile = join(dir, "ratings.csv");
  const ratings = parseCsv(readText(ratingsFile, "utf8"), ratingsFile);
  const rh = headerIndex(ratings[0], ratingsFile, ["userId", "movieId", "rating", "timestamp"]);
  const [cu, ci, cr, ct] = ["userId", "movieId", "rating", "timestamp"].map((c) => rh.get(c)!);
  const log = new RawLogBuilder(true);
  for (const row of ratings.slice(1)) {
    expectColumns(row, ratings[0].fields.length, ratingsFile);
    const w = { file: ratingsFile, line: row.line };
    log.push(
      intId(row.fields[cu], { ...w, field: "userId" }),
      intId(row.fields[ci], { ...w, field: "movieId" }),
      number(row.fields[ct], { ...w, field: "timestamp" }),
      number(row.fields[cr], { ...w, field: "rating" }),
    );
  }
  return { log: log.build(), items };
}

export const ML100K_GENRES = [
  "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
  "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
];

/** Splits a line on a literal separator and checks the column count. */
function splitRow(text: string, sep: string, count: number, file: string, line: number): string[] {
  const f = text.split(sep);
  if (f.length !== count) {
    throw rowError(`expected ${count} fields separated by ${JSON.stringify(sep)}, found ${f.length}`, { file, line });
  }
  return f;
}

/** ML-100K: u.data (user \t item \t rating \t ts) + u.item (latin-1, 24 '|' fields, 19 genre flags). */
export function loadMl100k(dir: string): RawData {
  const itemFile = join(dir, "u.item");
  const items = new Map<string, RawItemMeta>();
  for (const { line, text } of nonEmptyLines(readText(itemFile, "latin1"))) {
    const f = splitRow(text, "|", 5 + ML100K_GENRES.length, itemFile, line);
    const id = intId(f[0], { file: itemFile, line, field: "movie id" });
    const genres: string[] = [];
    ML100K_GENRES.forEach((g, k) => {
      const flag = f[5 + k];
      if (flag !== "0" && flag !== "1") throw rowError(`genre flag "${g}" must be 0 or 1, got ${JSON.stringify(flag)}`, { file: itemFile, line, field: g });
      if (flag === "1") genres.push(g);
    });
    const attributes: Record<string, string | string[]> = { genres };
    if (f[2]) attributes.releaseDate = f[2];
    items.set(id, { title: f[1], attributes });
  }
  const dataFile = join(dir, "u.data");
  const log = new RawLogBuilder(true);
  for (const { line, text } of nonEmptyLines(readText(dataFile, "utf8"))) {
    const f = splitRow(text, "\t", 4, dataFile, line);
    const w = { file: dataFile, line };
    log.push(
      intId(f[0], { ...w, field: "user id" }),
      intId(f[1], { ...w, field: "item id" }),
      number(f[3], { ...w, field: "timestamp" }),
      number(f[2], { ...w, field: "rating" }),
    );
  }
  return { log: log.build(), items };
}

/** ML-1M movies.dat: MovieID::Title::Genres (latin-1). */
export function loadMl1mMovies(file: string): Map<string, RawItemMeta> {
  const items = new Map<string, RawItemMeta>();
  for (const { line, text } of nonEmptyLines(readText(file, "latin1"))) {
    const f = splitRow(text, "::", 3, file, line);
    const id = intId(f[0], { file, line, field: "MovieID" });
    const genres = f[2].split("|").filter((g) => g.length > 0);
    items.set(id, { title: f[1], attributes: { genres } });
  }
  return items;
}

/** ML-1M raw: ratings.dat (UserID::MovieID::Rating::Timestamp) in file order + movies.dat. */
export function loadMl1mRaw(dir: string): RawData {
  const items = loadMl1mMovies(join(dir, "movies.dat"));
  const file = join(dir, "ratings.dat");
  const log = new RawLogBuilder(true);
  for (const { line, text } of nonEmptyLines(readText(file, "latin1"))) {
    const f = splitRow(text, "::", 4, file, line);
    const w = { file, line };
    log.push(
      intId(f[0], { ...w, field: "UserID" }),
      intId(f[1], { ...w, field: "MovieID" }),
      number(f[3], { ...w, field: "Timestamp" }),
      number(f[2], { ...w, field: "Rating" }),
    );
  }
  return { log: log.build(), items };
}
