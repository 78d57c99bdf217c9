/**
 * docs/api is the API reference typedoc generates from the TSDoc comments of the public API (src/api/, one page per
 * group): regenerated here and compared, so a changed signature or comment without `npm run docs` fails.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../src/paths.ts";

const committed = join(PACKAGE_ROOT, "docs", "api");

describe("docs/api", () => {
  it("is what `npm run docs` generates now, one page per group of the public API", () => {
    const fresh = mkdtempSync(join(tmpdir(), "reclm-docs-"));
    execFileSync(process.execPath, [join(PACKAGE_ROOT, "node_modules", "typedoc", "bin", "typedoc"), "--out", fresh, "--logLevel", "Error"], { cwd: PACKAGE_ROOT, stdio: "pipe" });
    const pages = readdirSync(fresh).sort();
    expect(pages).toEqual(["README.md", "contracts.md", "datasets.md", "engine.md", "errors.md", "evaluation.md", "llm.md", "methods.md", "models.md"]);
    expect(readdirSync(committed).sort(), "run `npm run docs`").toEqual(pages);
    for (const page of pages) expect(readFileSync(join(committed, page), "utf8"), `docs/api/${page} is stale: run \`npm run docs\``).toBe(readFileSync(join(fresh, page), "utf8"));
  }, 120_000);
});
