/** Child side of runInChild (child.ts): receives the input, runs the job module, reports back over IPC. */
import { pathToFileURL } from "node:url";
import type { ChildJob, ChildMessage } from "./child.ts";
import { dieWithParent } from "./ffi/libc.ts";

// A training child must not outlive the CLI that started it (killed, Ctrl-C, crashed): the kernel's parent-death
// SIGKILL covers a child busy in ggml or in a loop of steps; the IPC disconnect covers the rest. Exit now if the parent is already gone.
const parentAtStart = process.ppid;
dieWithParent();
if (process.ppid !== parentAtStart) process.exit(1);
process.on("disconnect", () => process.exit(1));

const send = (m: ChildMessage) =>
  new Promise<void>((resolve) => {
    process.send!(m, undefined, {}, () => resolve());
  });

process.once("message", async (msg: { input: unknown }) => {
  try {
    const mod = (await import(pathToFileURL(process.argv[2]).href)) as { default: ChildJob<unknown, unknown> };
    if (typeof mod.default !== "function") throw new Error(`${process.argv[2]} has no default-exported job function`);
    const value = await mod.default(msg.input, { progress: (progress) => void send({ type: "progress", progress }) });
    await send({ type: "result", value });
    process.exit(0);
  } catch (e) {
    const err = e as { message?: string; code?: string; stack?: string };
    await send({ type: "error", message: String(err.message ?? e), code: err.code, stack: err.stack });
    process.exit(1);
  }
});
