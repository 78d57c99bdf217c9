import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeFileAtomic, writeJsonAtomic } from "../src/io.ts";

describe("writeFileAtomic", () => {
  it("writes string and byte parts in order, creating missing directories, leaving no temp file", () => {
    const dir = mkdtempSync(join(tmpdir(), "reclm-io-"));
    const p = join(dir, "a", "b", "f.bin");
    writeFileAtomic(p, ["ab", new Uint8Array([99, 100]), "e"]);
    expect(readFileSync(p, "utf8")).toBe("abcde");
    expect(readdirSync(join(dir, "a", "b"))).toEqual(["f.bin"]);
  });
  it("replaces an existing file whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "reclm-io-"));
    const p = join(dir, "r.json");
    writeFileSync(p, "old contents that are longer than the new ones");
    writeJsonAtomic(p, { a: 1 });
    expect(JSON.parse(readFileSync(p, "utf8"))).toEqual({ a: 1 });
  });
  it("leaves the old file and no temp file when the target cannot be replaced", () => {
    const dir = mkdtempSync(join(tmpdir(), "reclm-io-"));
    const target = join(dir, "isdir");
    writeFileAtomic(join(target, "x"), "x"); // target is a non-empty directory: rename over it fails
    expect(() => writeFileAtomic(target, "y")).toThrow();
    expect(readdirSync(dir)).toEqual(["isdir"]);
  });
});
