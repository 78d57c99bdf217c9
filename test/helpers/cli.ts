import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll } from "vitest";
import { PACKAGE_ROOT } from "../../src/paths.ts";

// The CLI from its sources (tsx), so a test sees the code as it is now without a build; the built binary is what
// test/package.test.ts runs from the packed tarball.
const MAIN = resolve(PACKAGE_ROOT, "src/cli/main.ts");
const TSX = import.meta.resolve("tsx");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A scratch directory (removed after the file's tests) and a function that runs the `reclm` CLI in it,
 * with its own dataset cache, no debug stacks, and `extraEnv` (e.g. RECLM_THREADS=1 for training tests).
 */
export function spawnedCli(prefix: string, extraEnv: Record<string, string> = {}): { tmp: string; reclm: (...args: string[]) => Promise<CliResult> } {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const reclm = (...args: string[]): Promise<CliResult> =>
    new Promise((done) => {
      execFile(
        process.execPath,
        ["--import", TSX, MAIN, ...args],
        { cwd: tmp, env: { ...process.env, RECLM_CACHE: join(tmp, "cache"), RECLM_DEBUG: "", ...extraEnv } },
        (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  return { tmp, reclm };
}
