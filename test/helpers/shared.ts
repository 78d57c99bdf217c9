import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe } from "vitest";
import { sharedDir } from "../../src/paths.ts";

/**
 * Tests that read ../shared (real datasets, GGUF models) run only where it exists; elsewhere they skip
 * and say why, so `npm test` passes on a fresh clone.
 */
export function sharedPath(...parts: string[]): string | undefined {
  const root = sharedDir();
  if (!root) return undefined;
  const p = join(root, ...parts);
  return existsSync(p) ? p : undefined;
}

export function describeWithShared(name: string, parts: string[], fn: (path: string) => void): void {
  const p = sharedPath(...parts);
  if (p) describe(name, () => fn(p));
  else {
    const why = `skipped: ../shared/${parts.join("/")} is absent on this machine (set RECLM_SHARED to run it)`;
    // Reporters do not list skipped suites by name: say it where a CI log shows it.
    console.warn(`[reclm tests] "${name}" ${why}`);
    describe.skip(`${name} [${why}]`, () => {});
  }
}
