/**
 * The dataset registry: for each name, where its files live, which protocols it supports, and how to build a
 * SequenceDataset from them. `loadDataset` (index.ts) adds the cache around `build`.
 */
import type { LongWorkOptions, SequenceDataset } from "../contracts.ts";
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ReclmError } from "../errors.ts";
import { prepareCustomLog, prepareParquetSplit, splitFiles } from "./custom-dataset.ts";
import type { DuckOptions } from "./duck/connection.ts";
import { buildEmbedded } from "./embedded/index.ts";
import { loadAmazonRaw } from "./loaders/amazon.ts";
import { loadMl100k, loadMl1mMovies, loadMl1mRaw, loadMlLatestSmall } from "./loaders/movielens.ts";
import { itemFromTable, loadPublishedSplit } from "./loaders/preprocessed.ts";
import { loadSteamRaw } from "./loaders/steam.ts";
import { prepareRaw } from "./prepare.ts";
import type { SqlProtocol } from "./protocols/sql.ts";
import { cleanAmazonTitle, cleanMovieLensTitle } from "./protocols/titles.ts";
import type { RawData } from "./raw.ts";

export interface BuildContext extends LongWorkOptions {
  dataDir: string | undefined;
  interactions?: string;
  items?: string;
  /** custom: a directory of Parquet files holding a split made by the published SQL on a cluster. */
  splitDir?: string;
  /** DuckDB's memory limit and threads for the preparation. */
  duck?: DuckOptions;
  /** Whether the caller named the protocol (a Parquet split otherwise carries its own). */
  protocolGiven?: boolean;
}

export interface DatasetDef {
  name: string;
  description: string;
  /** Folder under <shared>/data, when the dataset lives there. */
  folder?: string;
  source: string;
  protocols: string[];
  /** The default can depend on which files exist (ml-1m: raw ratings.dat vs LRURec's preprocessed split). */
  defaultProtocol(dataDir: string | undefined): string;
  /** Whether the files for the default protocol are present. */
  available(dataDir: string | undefined): boolean;
  /** Files whose size/mtime key the cache; none means the dataset is not cached (built in memory). */
  inputFiles(protocol: string, ctx: BuildContext): string[];
  build(protocol: string, ctx: BuildContext): Promise<SequenceDataset> | SequenceDataset;
}

const embedded: DatasetDef = {
  name: "embedded",
  description: "Synthetic movie-like catalog (771 items, 1,500 users) generated from a seed; ships with reclm",
  source: "generated in src/data/embedded/generator.ts (no download)",
  protocols: ["embedded"],
  defaultProtocol: () => "embedded",
  available: () => true,
  inputFiles: () => [],
  build: (_p, ctx) => buildEmbedded(undefined, ctx.duck),
};

function needDir(ctx: BuildContext, name: string): string {
  if (!ctx.dataDir) {
    throw new ReclmError(
      "RECLM_ERR_FILE_NOT_FOUND",
      `no data directory for "${name}": ../shared is absent and no dataDir was given`,
    );
  }
  return ctx.dataDir;
}

/** The first candidate that exists, else the first one (so the error names the canonical file name). */
function firstExisting(dir: string, names: readonly string[]): string {
  const found = names.find((n) => existsSync(join(dir, n)));
  return join(dir, found ?? names[0]);
}

const movieTitle = (t: string | undefined, id: string) => cleanMovieLensTitle(t ?? id);
const amazonTitle = (t: string | undefined, id: string) => (t ? cleanAmazonTitle(t) : id);
const plainTitle = (t: string | undefined, id: string) => (t && t.trim() ? t.trim().replace(/[\t\r\n]+/g, " ") : id);

function report(ctx: BuildContext, stage: string, done: number, total: number): void {
  ctx.signal?.throwIfAborted();
  ctx.onProgress?.({ stage, done, total, unit: "steps" });
}

/** The raw protocols, each a published SQL file (protocols/sql). */
export const RAW_PROTOCOLS: readonly SqlProtocol[] = ["llamarec", "lrurec", "none"];

function sqlProtocol(protocol: string): SqlProtocol {
  if (!(RAW_PROTOCOLS as readonly string[]).includes(protocol)) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `unknown protocol "${protocol}"`);
  return protocol as SqlProtocol;
}

/** A dataset read into RawData by its loader, then through a raw protocol on DuckDB (prepare.ts). */
function rawBuild(
  name: string,
  files: (dir: string) => string[],
  read: (files: string[]) => RawData,
  title: (t: string | undefined, id: string) => string,
): Pick<DatasetDef, "inputFiles" | "build"> {
  return {
    inputFiles: (_p, ctx) => files(needDir(ctx, name)),
    build: async (protocol, ctx) => {
      report(ctx, `read ${name}`, 0, 2);
      const inputs = files(needDir(ctx, name));
      const raw = read(inputs);
      report(ctx, `${protocol} protocol`, 1, 2);
      const ds = await prepareRaw(raw, { name, protocol, sql: sqlProtocol(protocol), title, source: inputs[0], signal: ctx.signal }, ctx.duck);
      report(ctx, "done", 2, 2);
      return ds;
    },
  };
}

const mlLatestSmall: DatasetDef = {
  name: "ml-latest-small",
  description: 'MovieLens latest-small (610 users, 9,742 movies) — what LlamaRec calls "ML-100k"',
  folder: "ml-latest-small",
  source: "GroupLens ml-latest-small (ratings.csv, movies.csv, tags.csv)",
  protocols: ["llamarec", "lrurec", "none"],
  defaultProtocol: () => "llamarec",
  available: (dir) => !!dir && existsSync(join(dir, "ratings.csv")) && existsSync(join(dir, "movies.csv")),
  ...rawBuild("ml-latest-small", (d) => ["ratings.csv", "movies.csv", "tags.csv"].map((f) => join(d, f)), (f) => loadMlLatestSmall(resolve(f[0], "..")), movieTitle),
};

const ml100k: DatasetDef = {
  name: "ml-100k",
  description: "MovieLens 100K (943 users, 1,682 movies); LLaRA's MovieLens source",
  folder: "ml-100k",
  source: "GroupLens ML-100K (u.data, u.item latin-1)",
  protocols: ["llamarec", "lrurec", "none"],
  defaultProtocol: () => "llamarec",
  available: (dir) => !!dir && existsSync(join(dir, "u.data")) && existsSync(join(dir, "u.item")),
  ...rawBuild("ml-100k", (d) => ["u.data", "u.item"].map((f) => join(d, f)), (f) => loadMl100k(resolve(f[0], "..")), movieTitle),
};

const ml1mRaw = rawBuild("ml-1m", (d) => ["ratings.dat", "movies.dat"].map((f) => join(d, f)), (f) => loadMl1mRaw(resolve(f[0], "..")), movieTitle);
const ml1mPreprocessedFiles = (d: string) => [join(d, "lrurec", "dataset.json"), join(d, "movies.dat")];

const ml1m: DatasetDef = {
  name: "ml-1m",
  description: "MovieLens 1M (6,040 users); LRURec's published split when ratings.dat is absent",
  folder: "ml-1m",
  source: "GroupLens ML-1M movies.dat + LRURec data/preprocessed/ml-1m.../dataset.pkl (JSON mirror)",
  protocols: ["lrurec-preprocessed", "lrurec", "llamarec", "none"],
  defaultProtocol: (dir) => (dir && existsSync(join(dir, "ratings.dat")) ? "lrurec" : "lrurec-preprocessed"),
  available: (dir) => !!dir && existsSync(join(dir, "movies.dat")) && (existsSync(join(dir, "ratings.dat")) || existsSync(join(dir, "lrurec", "dataset.json"))),
  inputFiles: (protocol, ctx) =>
    protocol === "lrurec-preprocessed" ? ml1mPreprocessedFiles(needDir(ctx, "ml-1m")) : ml1mRaw.inputFiles(protocol, ctx),
  build: (protocol, ctx) => {
    if (protocol !== "lrurec-preprocessed") return ml1mRaw.build(protocol, ctx);
    const [split, moviesFile] = ml1mPreprocessedFiles(needDir(ctx, "ml-1m"));
    report(ctx, "read ml-1m", 0, 1);
    const movies = loadMl1mMovies(moviesFile);
    const ds = loadPublishedSplit(split, {
      name: "ml-1m",
      protocol,
      requireMeta: false,
      item: itemFromTable(movies, moviesFile, cleanMovieLensTitle),
    });
    report(ctx, "done", 1, 1);
    return ds;
  },
};

function amazon(name: string, folder: string, ratings: string[], meta: string[], description: string, source: string): DatasetDef {
  const rawFiles = (d: string) => [firstExisting(d, ratings), firstExisting(d, meta)];
  const raw = rawBuild(name, rawFiles, (f) => loadAmazonRaw(f[0], f[1]), amazonTitle);
  const published = (d: string) => join(d, "llamarec", "dataset.json");
  const hasRaw = (dir: string | undefined) => !!dir && rawFiles(dir).every((f) => existsSync(f));
  return {
    name,
    description,
    folder,
    source,
    protocols: ["llamarec-preprocessed", "llamarec", "lrurec", "none"],
    defaultProtocol: (dir) => (hasRaw(dir) ? "llamarec" : "llamarec-preprocessed"),
    available: (dir) => hasRaw(dir) || (!!dir && existsSync(published(dir))),
    inputFiles: (protocol, ctx) =>
      protocol === "llamarec-preprocessed" ? [published(needDir(ctx, name))] : raw.inputFiles(protocol, ctx),
    build: (protocol, ctx) => {
      if (protocol !== "llamarec-preprocessed") return raw.build(protocol, ctx);
      report(ctx, `read ${name}`, 0, 1);
      const ds = loadPublishedSplit(published(needDir(ctx, name)), {
        name,
        protocol,
        requireMeta: true,
        item: (_sid, _raw, t) => ({ title: cleanAmazonTitle(t ?? "") }),
      });
      report(ctx, "done", 1, 1);
      return ds;
    },
  };
}

const beauty = amazon(
  "beauty",
  "beauty",
  ["ratings_Beauty.csv", "beauty.csv"],
  ["meta_Beauty.json.gz", "meta_Beauty.json", "beauty_meta.json.gz"],
  "Amazon Beauty 2014; LlamaRec's published split when the raw files are absent",
  "McAuley lab Amazon 2014 ratings_Beauty.csv + meta_Beauty.json.gz; LlamaRec dataset.pkl (JSON mirror)",
);

const games = amazon(
  "games",
  "games",
  ["ratings_Video_Games.csv", "games.csv"],
  ["meta_Video_Games.json.gz", "meta_Video_Games.json", "games_meta.json.gz"],
  "Amazon Video Games 2014 (titles from the 2018 meta); LlamaRec's published split when the raw files are absent",
  "McAuley lab ratings_Video_Games.csv + Amazon v2 meta_Video_Games.json.gz; LlamaRec dataset.pkl (JSON mirror)",
);

const steam: DatasetDef = {
  name: "steam",
  description: "Steam reviews (SASRec/LRURec), user -> game by review date",
  folder: "steam",
  source: "McAuley lab steam_reviews.json.gz + steam_games.json.gz (not in ../shared; bring your own)",
  protocols: ["lrurec", "llamarec", "none"],
  defaultProtocol: () => "lrurec",
  available: (dir) => !!dir && steamFiles(dir).every((f) => existsSync(f)),
  ...rawBuild("steam", (d) => steamFiles(d), (f) => loadSteamRaw(f[0], f[1]), plainTitle),
};

function steamFiles(d: string): string[] {
  return [
    firstExisting(d, ["steam_reviews.json.gz", "steam_reviews.json", "reviews.json"]),
    firstExisting(d, ["steam_games.json.gz", "steam_games.json", "games.json"]),
  ];
}

function customFiles(ctx: BuildContext): { interactions?: string; splitDir?: string; items?: string } {
  if (ctx.interactions !== undefined && ctx.splitDir !== undefined) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", "give either an interactions file (prepared here) or a split directory (prepared elsewhere), not both", { field: "splitDir" });
  }
  if (ctx.interactions === undefined && ctx.splitDir === undefined) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", 'dataset "custom" needs the "interactions" option (a CSV/TSV/JSONL/Parquet file) or a Parquet split directory ("splitDir")');
  }
  const abs = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) || !ctx.dataDir ? resolve(p) : resolve(ctx.dataDir, p));
  return { interactions: abs(ctx.interactions), splitDir: abs(ctx.splitDir), items: abs(ctx.items) };
}

const custom: DatasetDef = {
  name: "custom",
  description: "Your own interactions (CSV/TSV/JSONL/Parquet: user, item, timestamp) and optional items file, or a Parquet split made on a cluster",
  source: "options.interactions / options.items, or options.splitDir",
  protocols: ["lrurec", "llamarec", "none"],
  defaultProtocol: () => "lrurec",
  available: () => true,
  inputFiles: (_p, ctx) => {
    const f = customFiles(ctx);
    return [...(f.splitDir ? splitFiles(f.splitDir) : [f.interactions!]), ...(f.items ? [f.items] : [])];
  },
  build: (protocol, ctx) => {
    const f = customFiles(ctx);
    const onStage = (stage: string) => report(ctx, stage, 0, 1);
    if (f.splitDir) return prepareParquetSplit(f.splitDir, f.items, { name: "custom", protocol: ctx.protocolGiven ? protocol : undefined, title: plainTitle, onStage, signal: ctx.signal }, ctx.duck);
    return prepareCustomLog(f.interactions!, f.items, { name: "custom", protocol, sql: sqlProtocol(protocol), title: plainTitle, onStage, signal: ctx.signal }, ctx.duck);
  },
};

export const DATASETS: DatasetDef[] = [embedded, mlLatestSmall, ml100k, ml1m, beauty, games, steam, custom];

export function findDataset(name: string): DatasetDef | undefined {
  return DATASETS.find((d) => d.name === name);
}
