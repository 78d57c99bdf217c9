import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Progress } from "../../src/contracts.ts";
import { runInChild } from "../../src/engine/child.ts";
import { ReclmError } from "../../src/errors.ts";

const fixtures = join(import.meta.dirname, "fixtures");

describe("runInChild", () => {
  it("runs a training job in a child, streaming progress and returning its result", async () => {
    const seen: Progress[] = [];
    const res = await runInChild<{ steps: number }, { losses: number[]; threads: number }>(join(fixtures, "train-job.ts"), { steps: 20 }, {
      onProgress: (p) => seen.push(p),
      env: { RECLM_THREADS: "1" },
    });
    expect(res.threads).toBe(1);
    expect(res.losses).toHaveLength(20);
    expect(res.losses[19]).toBeLessThan(res.losses[0]);
    expect(seen.map((p) => p.done)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  }, 30_000);

  it("turns a real ggml abort into RECLM_ERR_ENGINE_CRASH with the child's stderr", async () => {
    const err = await runInChild(join(fixtures, "abort-job.ts"), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReclmError);
    expect((err as ReclmError).code).toBe("RECLM_ERR_ENGINE_CRASH");
    expect((err as ReclmError).message).toMatch(/SIGABRT/);
    expect((err as ReclmError).message).toMatch(/GGML_ASSERT/);
  }, 30_000);

  it("re-throws a job's own ReclmError with its code", async () => {
    const err = await runInChild(join(fixtures, "train-job.ts"), { steps: 1, fail: true }).catch((e: unknown) => e);
    expect((err as ReclmError).code).toBe("RECLM_ERR_BAD_CONFIG");
    expect((err as ReclmError).message).toMatch(/refused/);
  }, 30_000);

  // The child runs a blocked event loop, as when it is inside a ggml graph: only the kernel's parent-death signal or
  // the parent's own cleanup can stop it.
  // Or it runs steps and yields between them, while listeners of its libraries hold SIGTERM/SIGINT without exiting.
  const cases = [
    ...(["SIGKILL", "SIGTERM", "SIGINT"] as const).map((signal) => ({ signal, steps: false })),
    ...(["SIGKILL", "SIGTERM"] as const).map((signal) => ({ signal, steps: true })),
  ];
  for (const { signal, steps } of cases) {
    it(`a training child does not outlive its parent (${signal} to the parent; child ${steps ? "in steps, signals held by its libraries" : "blocked"})`, async () => {
      const parent = spawn(process.execPath, ["--import", "tsx", join(fixtures, "parent.ts"), ...(steps ? ["--steps"] : [])], { stdio: ["ignore", "pipe", "inherit"] });
      const pid = await new Promise<number>((resolve, reject) => {
        let out = "";
        parent.stdout!.on("data", (c: Buffer) => {
          out += c.toString();
          const m = /child (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        parent.on("exit", (code) => reject(new Error(`parent exited (${code}) before reporting its child`)));
      });
      await new Promise((r) => setTimeout(r, 1000)); // the child is now inside its blocked loop
      expect(alive(pid)).toBe(true);
      parent.kill(signal);
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(alive(pid)).toBe(false);
    }, 40_000);
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
