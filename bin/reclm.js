#!/usr/bin/env node
// The CLI as built JavaScript (dist/, written by `npm run build`, which `npm ci` and `npm pack` run through
// `prepare`). From the sources without a build: `npm run reclm -- <args>` (tsx).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write("reclm: RECLM_ERR_FILE_NOT_FOUND: dist/cli/main.js is missing: run `npm run build` (npm ci does it)\n");
  process.exit(1);
}
await import(main.href);
