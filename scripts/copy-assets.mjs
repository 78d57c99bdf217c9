// tsc emits only JavaScript: the files the compiled code reads beside itself (the service's web page, the protocol
// SQL of src/data/protocols/sql) are copied from src/ to dist/ at the same relative path. READMEs and TypeScript
// stay behind.
import { cpSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const SRC = "src";
const DIST = "dist";

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (!name.endsWith(".ts") && name !== "README.md") cpSync(path, join(DIST, relative(SRC, path)));
  }
}
walk(SRC);
