import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Temp file in the same directory + rename, so a reader never sees half a file (ARCHITECTURE.md). */
export function writeFileAtomic(path: string, contents: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  const tmp = `${full}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, full);
  return full;
}
