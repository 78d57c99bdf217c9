import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigFile } from "../../src/cli/common.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-config-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readConfigFile", () => {
  it("reads a JSON object, with or without a UTF-8 byte-order mark", () => {
    const plain = join(dir, "plain.json");
    const bom = join(dir, "bom.json");
    writeFileSync(plain, '{"lr": 0.01}');
    writeFileSync(bom, '\uFEFF{"lr": 0.01}');
    expect(readConfigFile(plain)).toEqual({ lr: 0.01 });
    expect(readConfigFile(bom)).toEqual({ lr: 0.01 });
  });

  it("names the file (and the line of a syntax error) for a directory, bad JSON or a non-object", () => {
    expect(() => readConfigFile(dir)).toThrow(expect.objectContaining({ location: { file: dir }, message: expect.stringMatching(/directory/) }));
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{\n  "lr": 0.01,\n}'); // a trailing comma: V8 reports its position
    expect(() => readConfigFile(bad)).toThrow(expect.objectContaining({ location: { file: bad, line: 3 } }));
    writeFileSync(bad, '{\n  "lr": 0.01,\n  "dropout": ,\n}'); // V8 gives no position for an unexpected token
    expect(() => readConfigFile(bad)).toThrow(expect.objectContaining({ location: expect.objectContaining({ file: bad }), message: expect.stringMatching(/invalid JSON/) }));
    const list = join(dir, "list.json");
    writeFileSync(list, "[1, 2]");
    expect(() => readConfigFile(list)).toThrow(expect.objectContaining({ code: "RECLM_ERR_BAD_CONFIG", message: expect.stringMatching(/one JSON object/) }));
    expect(() => readConfigFile(join(dir, "missing.json"))).toThrow(expect.objectContaining({ code: "RECLM_ERR_FILE_NOT_FOUND", message: expect.stringMatching(/not found/) }));
  });
});
