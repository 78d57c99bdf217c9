/**
 * Runs a training job in a child Node process, so a ggml abort (GGML_ASSERT -> SIGABRT) kills the child, not the
 * caller. The job is a module whose default export is `async (input, ctx) => result`; `ctx.progress(p)` streams
 * `Progress` to the parent's `onProgress`. A crash becomes ReclmError("RECLM_ERR_ENGINE_CRASH") carrying the last
 * lines of the child's stderr; an error thrown by the job is re-thrown in the parent with its code.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LongWorkOptions, Progress } from "../contracts.ts";
import { ReclmError, type ReclmErrorCode } from "../errors.ts";

export interface ChildJobContext {
  progress(p: Progress): void;
}

/** The shape of a job module's default export. */
export type ChildJob<I, O> = (input: I, ctx: ChildJobContext) => Promise<O> | O;

export interface RunInChildOptions extends LongWorkOptions {
  /** How many trailing stderr lines a crash error carries. Default 30. */
  stderrLines?: number;
  /** Extra environment for the child (e.g. RECLM_THREADS). */
  env?: Record<string, string>;
}

/** @internal messages child -> parent */
export type ChildMessage =
  | { type: "progress"; progress: Progress }
  | { type: "result"; value: unknown }
  | { type: "error"; message: string; code?: string; stack?: string };

// Built (dist/*.js) the child runs plain JavaScript; from the sources (tsx, vitest) it needs tsx's loader for the
// entry and the job module alike. This module's own extension says which of the two we are.
const FROM_SOURCES = import.meta.url.endsWith(".ts");
const ENTRY = fileURLToPath(new URL(FROM_SOURCES ? "./child-entry.ts" : "./child-entry.js", import.meta.url));

/**
 * Runs `jobModule` (absolute path to a module: a job passes its own `fileURLToPath(import.meta.url)`, .ts from the
 * sources, .js when built) in a child process with `input` (structured-clone-able)
 * and resolves with its result.
 */
export function runInChild<I, O>(jobModule: string, input: I, options: RunInChildOptions = {}): Promise<O> {
  const keep = options.stderrLines ?? 30;
  return new Promise<O>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new ReclmError("RECLM_ERR_ENGINE", "training job aborted before it started"));
      return;
    }
    const child = fork(ENTRY, [jobModule], {
      // The caller's directory: paths a user gave relative to it (a log file, a run dir) mean the same in the job.
      // tsx's loader is then named by its absolute URL, as the caller's directory may have no node_modules.
      cwd: process.cwd(),
      execArgv: FROM_SOURCES || /\.[cm]?ts$/.test(jobModule) ? ["--import", import.meta.resolve("tsx")] : [],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
      env: { ...process.env, ...options.env },
    });
    // Ctrl-C or a kill of this process must not leave the child training: stop it on our way out. (The child also
    // asks the kernel for SIGTERM when we die, which covers SIGKILL.)
    const stopChild = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    };
    const onSignal = (sig: NodeJS.Signals) => {
      stopChild();
      process.exit(sig === "SIGINT" ? 130 : 143);
    };
    process.on("exit", stopChild);
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    const release = () => {
      process.removeListener("exit", stopChild);
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    };
    const tail: string[] = [];
    let partial = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      tail.push(...lines);
      if (tail.length > keep) tail.splice(0, tail.length - keep);
    });
    let settled = false;
    let outcome: { ok: true; value: O } | { ok: false; error: ReclmError } | undefined;
    const onAbort = () => {
      outcome = { ok: false, error: new ReclmError("RECLM_ERR_ENGINE", "training job aborted") };
      child.kill("SIGTERM");
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("message", (raw) => {
      const m = raw as ChildMessage;
      if (m.type === "progress") options.onProgress?.(m.progress);
      else if (m.type === "result") outcome = { ok: true, value: m.value as O };
      else if (m.type === "error") {
        const code = (m.code && m.code.startsWith("RECLM_ERR_") ? m.code : "RECLM_ERR_ENGINE") as ReclmErrorCode;
        outcome = { ok: false, error: new ReclmError(code, m.message) };
      }
    });
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      release();
      options.signal?.removeEventListener("abort", onAbort);
      reject(new ReclmError("RECLM_ERR_ENGINE_CRASH", `could not start the training child: ${e.message}`, {}, { cause: e }));
    });
    child.on("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      release();
      options.signal?.removeEventListener("abort", onAbort);
      if (partial) tail.push(partial);
      if (outcome?.ok && code === 0) resolve(outcome.value);
      else if (outcome && !outcome.ok) reject(outcome.error);
      else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const last = tail.filter((l) => l.trim() !== "").slice(-keep).join("\n");
        reject(new ReclmError("RECLM_ERR_ENGINE_CRASH", `training child process ${how}${last ? `; last stderr lines:\n${last}` : " (no stderr)"}`));
      }
    });
    child.send({ input });
  });
}
