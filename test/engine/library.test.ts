import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { locateGgml } from "../../src/engine/ffi/library.ts";

// The libraries load once per process, so these test where they would be looked for, not the loading.
const dir = mkdtempSync(join(tmpdir(), "reclm-ggml-dir-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("locateGgml", () => {
  const bundled = locateGgml(undefined);

  it("uses node-llama-cpp's libraries when RECLM_GGML_DIR is unset or empty", () => {
    expect(bundled.base).toMatch(/libggml-base\.so$/);
    expect(bundled.cpuVariants.length).toBeGreaterThan(0);
    expect(bundled.origin).toBeUndefined();
    expect(locateGgml("")).toEqual(bundled);
  });

  it("uses RECLM_GGML_DIR when it holds the libraries", () => {
    expect(locateGgml(bundled.dir, "/nonexistent")).toEqual({ ...bundled, origin: `RECLM_GGML_DIR=${bundled.dir}` });
  });

  it("refuses an unusable RECLM_GGML_DIR instead of falling back to the bundled libraries", () => {
    const missing = join(dir, "does-not-exist");
    const err = (why: string, path: string) =>
      expect.objectContaining({ code: "RECLM_ERR_ENGINE", message: expect.stringMatching(new RegExp(`RECLM_GGML_DIR=${path}.*${why}`)) });
    expect(() => locateGgml(missing, bundled.dir)).toThrowError(err("is not a directory", missing));
    expect(() => locateGgml(dir, bundled.dir)).toThrowError(err("libggml-base\\.so does not exist", dir));
    writeFileSync(join(dir, "libggml-base.so"), "");
    expect(() => locateGgml(dir, bundled.dir)).toThrowError(err("no libggml-cpu-<arch>\\.so", dir));
  });
});
