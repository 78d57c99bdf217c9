/**
 * vitest globalSetup: every temp dir a test makes (os.tmpdir() + mkdtemp, spawned CLIs included) goes under one
 * fresh root, removed when the run ends, so `npm test` leaves nothing behind in /tmp.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "reclm-test-"));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root; // workers are forked after globalSetup and inherit it
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
