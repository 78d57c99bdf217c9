import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sha256File, writeBenchResult } from "../../bench/lib/results.ts";
import { ReclmError } from "../../src/errors.ts";
import { PACKAGE_ROOT } from "../../src/paths.ts";
import { describeWithShared } from "../helpers/shared.ts";

// The shared benchmark writer lives in bench/lib; its tests sit with eval, whose reports it prints.
const tmp = mkdtempSync(join(tmpdir(), "reclm-bench-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const input = join(tmp, "input.txt");
writeFileSync(input, "abc");

const row = { method: "pop", dataset: "embedded", protocol: "full-ranking", metrics: { "Recall@10": 0.25, "NDCG@10": 0.125 } };

describe("writeBenchResult", () => {
  it("fills machine, date, commit and input hashes, and writes the shape", () => {
    const { path, result } = writeBenchResult({ benchmark: "unit-test", command: "npx vitest", inputs: [input], rows: [row], dir: tmp, print: false });
    const onDisk = JSON.parse(readFileSync(path, "utf8"));
    expect(onDisk).toEqual(result);
    expect(result.inputs[0].sha256).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256File(input)).toBe(result.inputs[0].sha256);
    expect(Number.isNaN(Date.parse(result.date))).toBe(false);
    expect(result.machine).toMatch(/^\d+ cores, \d+ GB, Node \d+\.\d+\.\d+, /);
    expect(result.commit).toMatch(/^([0-9a-f]{4,}|unknown)$/);
    expect(result.rows).toEqual([row]);
  });

  it("refuses names, metrics and inputs the checker would reject", () => {
    const w = (over: object, inputs = [input]) => () =>
      writeBenchResult({ benchmark: "unit-test", command: "x", inputs, rows: [{ ...row, ...over }], dir: tmp, print: false });
    expect(w({ method: "PopRec" })).toThrow(ReclmError);
    expect(w({ protocol: "full ranking" })).toThrow(ReclmError);
    expect(w({ metrics: {} })).toThrow(ReclmError);
    expect(w({ metrics: { "Recall@10": NaN } })).toThrow(/finite/);
    expect(w({}, [join(tmp, "missing.bin")])).toThrow(ReclmError);
    expect(() => writeBenchResult({ benchmark: "Bad Name", command: "x", inputs: [], rows: [row], dir: tmp, print: false })).toThrow(ReclmError);
  });
});

describeWithShared("writeBenchResult output passes ../shared/tools/check-bench-results", ["tools", "check-bench-results"], (checker) => {
  it("is accepted by the checker", () => {
    const dir = mkdtempSync(join(tmp, "checked-"));
    writeBenchResult({ benchmark: "checked", command: "npx vitest", inputs: [input], rows: [row, { ...row, method: "cooc" }], dir, print: false });
    const out = execFileSync(process.execPath, [checker, dir], { cwd: PACKAGE_ROOT }).toString();
    expect(out).toMatch(/1 result files, 2 rows, 0 problems/);
  });
});
