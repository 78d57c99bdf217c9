/**
 * The published protocol SQL files (./sql/*.sql, README there) as reclm runs them on DuckDB: statements end with a
 * semicolon at the end of a line; the statements between "-- @loop begin" and "-- @loop end" are one round, repeated
 * until the count the round ends with (a `SELECT COUNT(*)`) stops changing. The files are read as they are shipped,
 * so what reclm runs is exactly what a cluster runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ReclmError } from "../../errors.ts";
import type { Duck } from "../duck/connection.ts";

// Beside this module in src/ and in dist/ alike (the build copies the .sql files: scripts/copy-assets.mjs);
// import.meta.url rather than import.meta.dirname, which Node 20 has only from 20.11.
export const SQL_DIR = fileURLToPath(new URL("./sql", import.meta.url));

/** The protocols that have a SQL file, and the split that follows them. */
export type SqlProtocol = "lrurec" | "llamarec" | "none";

export interface SqlScript {
  file: string;
  /** Statements before the loop (all of them when there is none). */
  before: string[];
  /** One round of the loop; its last statement returns the row count that ends the loop when unchanged. */
  loop: string[];
  after: string[];
}

export function sqlFile(name: SqlProtocol | "split"): string {
  return join(SQL_DIR, `${name}.sql`);
}

/** Parses a shipped SQL file into its statements and loop. */
export function readScript(name: SqlProtocol | "split"): SqlScript {
  const file = sqlFile(name);
  const script: SqlScript = { file, before: [], loop: [], after: [] };
  let part: "before" | "loop" | "after" = "before";
  let current: string[] = [];
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trimEnd();
    const marker = /^--\s*@loop\s+(begin|end)\s*$/.exec(line);
    if (marker) {
      if (current.length) throw new ReclmError("RECLM_ERR_INTERNAL", `${file}: a statement runs into the @loop ${marker[1]} marker`);
      part = marker[1] === "begin" ? "loop" : "after";
      continue;
    }
    if (line.startsWith("--") || line.trim() === "") continue;
    current.push(line);
    if (line.endsWith(";")) {
      script[part].push(current.join("\n"));
      current = [];
    }
  }
  if (current.length) throw new ReclmError("RECLM_ERR_INTERNAL", `${file}: the last statement has no closing semicolon`);
  return script;
}

export interface RunScriptOptions {
  /** The input file, named in DuckDB's errors. */
  file?: string;
  /** Called after each round of a loop with the row count it left. */
  onRound?: (round: number, rows: number) => void;
  signal?: AbortSignal;
}

/** Runs a script; a loop repeats until its count stops changing. Returns the number of rounds run. */
export async function runScript(duck: Duck, script: SqlScript, options: RunScriptOptions = {}): Promise<number> {
  for (const s of script.before) await duck.run(s, options.file);
  let rounds = 0;
  if (script.loop.length) {
    let previous = Number.NaN;
    for (;;) {
      options.signal?.throwIfAborted();
      for (const s of script.loop.slice(0, -1)) await duck.run(s, options.file);
      const rows = Number(await duck.value(script.loop[script.loop.length - 1], options.file));
      rounds++;
      options.onRound?.(rounds, rows);
      if (rows === previous) break;
      previous = rows;
    }
  }
  for (const s of script.after) await duck.run(s, options.file);
  return rounds;
}
