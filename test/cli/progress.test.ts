import { describe, expect, it } from "vitest";
import { ReclmError } from "../../src/errors.ts";
import { formatCliError } from "../../src/cli/errors.ts";
import { commandLine, parseKs } from "../../src/cli/common.ts";
import { createProgressReporter, formatInfo } from "../../src/cli/progress.ts";

function fakeStream() {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY: false, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WritableStream };
}

describe("progress reporter (not a TTY)", () => {
  it("prints a line at most every interval, always the last of a stage, with info", () => {
    const { chunks, stream } = fakeStream();
    let t = 0;
    const p = createProgressReporter({ stream, intervalMs: 1000, now: () => t });
    p.onProgress({ stage: "train", done: 1, total: 10, unit: "steps", info: { loss: 3.21 } });
    t = 500;
    p.onProgress({ stage: "train", done: 2, total: 10, unit: "steps" });
    t = 1200;
    p.onProgress({ stage: "train", done: 3, total: 10, unit: "steps", info: { loss: 2.5 } });
    t = 1300;
    p.onProgress({ stage: "train", done: 10, total: 10, unit: "steps" });
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toBe("train: 1/10 steps (10%) 0.0s loss=3.210\n");
    expect(chunks[1]).toMatch(/^train: 3\/10 steps \(30%\) 1\.2s loss=2\.500\n$/);
    expect(chunks[2]).toMatch(/^train: 10\/10 steps \(100%\)/);
  });

  it("flushes the pending update when the stage changes or on stop", () => {
    const { chunks, stream } = fakeStream();
    let t = 0;
    const p = createProgressReporter({ stream, intervalMs: 1000, now: () => t });
    p.onProgress({ stage: "a", done: 1, total: 3 });
    t = 10;
    p.onProgress({ stage: "a", done: 2, total: 3 });
    p.onProgress({ stage: "b", done: 1, total: 2 });
    t = 20;
    p.onProgress({ stage: "b", done: 1, total: 2, info: { x: "y" } });
    p.stop();
    expect(chunks.map((c) => c.split(":")[0] + c.match(/ \d+\/\d+/)?.[0])).toEqual(["a 1/3", "a 2/3", "b 1/2", "b 1/2"]);
    expect(chunks[3]).toContain("x=y");
  });

  it("formats info numbers compactly", () => {
    expect(formatInfo({ loss: 0.123456, step: 5, lr: 1e-4, name: "x" })).toBe("loss=0.1235 step=5 lr=1.000e-4 name=x");
  });
});

describe("CLI helpers", () => {
  it("formats a ReclmError as one line with its code, and internal errors as such", () => {
    const line = formatCliError(new ReclmError("RECLM_ERR_UNKNOWN_DATASET", 'unknown dataset "x"'), false);
    expect(line).toBe('reclm: RECLM_ERR_UNKNOWN_DATASET: unknown dataset "x"');
    expect(formatCliError(new Error("boom"), false)).toMatch(/^reclm: internal error: boom/);
    expect(formatCliError(new Error("boom"), false)).not.toContain("\n");
    expect(formatCliError(new Error("boom"), true).split("\n").length).toBeGreaterThan(1);
  });

  it("parses --ks and quotes the command line", () => {
    expect(parseKs("5, 10,20")).toEqual([5, 10, 20]);
    expect(() => parseKs("5,x")).toThrow(ReclmError);
    expect(() => parseKs("")).toThrow(ReclmError);
    expect(commandLine(["eval", "--out", "a b.json"])).toBe('reclm eval --out "a b.json"');
  });
});

describe("progress reporter (TTY)", () => {
  it("draws one cli-progress bar per stage with unit, ETA and live info", () => {
    const out: string[] = [];
    const noop = () => true;
    const stream = {
      isTTY: true,
      columns: 120,
      write: (s: string) => (out.push(s), true),
      cursorTo: noop,
      clearLine: noop,
      moveCursor: noop,
      clearScreenDown: noop,
      on: noop,
      removeListener: noop,
    } as unknown as NodeJS.WritableStream;
    const p = createProgressReporter({ stream });
    p.onProgress({ stage: "train", done: 1, total: 4, unit: "steps", info: { loss: 1.5 } });
    p.onProgress({ stage: "train", done: 4, total: 4, unit: "steps", info: { loss: 1.25 } });
    p.onProgress({ stage: "eval", done: 2, total: 2, unit: "users" });
    p.stop();
    const text = out.join("");
    expect(text).toMatch(/train \[[█░]+\] 100% \| 4\/4 steps \| ETA \S+ \| loss=1\.250/);
    expect(text).toMatch(/eval \[[█░]+\] 100% \| 2\/2 users/);
    expect(text.indexOf("train")).toBeLessThan(text.indexOf("eval"));
  });
});
