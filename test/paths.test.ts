import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cacheDir, PACKAGE_ROOT, sharedDir } from "../src/paths.ts";

afterEach(() => vi.unstubAllEnvs());

describe("sharedDir", () => {
  it("unset: ../shared beside the checkout when it exists, else undefined (tests that probe for it skip)", () => {
    vi.stubEnv("RECLM_SHARED", undefined);
    const beside = resolve(PACKAGE_ROOT, "../shared");
    expect(sharedDir()).toBe(existsSync(beside) ? beside : undefined);
    vi.stubEnv("RECLM_SHARED", "");
    expect(sharedDir()).toBe(existsSync(beside) ? beside : undefined);
  });

  it("set to an existing folder: that folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "reclm-shared-"));
    vi.stubEnv("RECLM_SHARED", dir);
    expect(sharedDir()).toBe(dir);
  });

  it("set to a path that is not a folder: an error naming the variable and the path, not a silent fallback", () => {
    const missing = join(tmpdir(), "reclm-no-such-shared-dir");
    vi.stubEnv("RECLM_SHARED", missing);
    expect(() => sharedDir()).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CONFIG", location: { file: missing, field: "RECLM_SHARED" } }));
    expect(() => sharedDir()).toThrow(/RECLM_SHARED is set to .*reclm-no-such-shared-dir/);
    const file = join(mkdtempSync(join(tmpdir(), "reclm-shared-")), "a-file");
    writeFileSync(file, "x");
    vi.stubEnv("RECLM_SHARED", file);
    expect(() => sharedDir()).toThrow(/RECLM_SHARED/);
  });
});

describe("cacheDir", () => {
  it("unset: <package>/.cache; set: that path", () => {
    vi.stubEnv("RECLM_CACHE", undefined);
    expect(cacheDir()).toBe(resolve(PACKAGE_ROOT, ".cache"));
    vi.stubEnv("RECLM_CACHE", "/tmp/reclm-cache");
    expect(cacheDir()).toBe("/tmp/reclm-cache");
  });

  it("set but empty: an error naming the variable (not a cache in the working directory)", () => {
    vi.stubEnv("RECLM_CACHE", "");
    expect(() => cacheDir()).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CONFIG", location: { field: "RECLM_CACHE" } }));
  });
});
