/**
 * `reclm serve` as a child process (tests and bench/serve-load.ts): started on a free port, ready when /health says
 * ok, stopped by signal. stdout and stderr are kept for the assertions.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { PACKAGE_ROOT } from "../../src/paths.ts";

const BIN = resolve(PACKAGE_ROOT, "bin/reclm.js");

export interface ServeProcess {
  proc: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every server startServe started that has not exited: a failed test must not leave one behind. */
export function killStartedServers(): void {
  for (const p of running) p.kill("SIGKILL");
  running.clear();
}

export async function startServe(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; readyTimeoutMs?: number } = {}): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
    cwd: options.cwd ?? PACKAGE_ROOT,
    env: { ...process.env, RECLM_DEBUG: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += String(d)));
  proc.stderr!.on("data", (d) => (out += String(d)));
  running.add(proc);
  const exited = new Promise<number | string>((r) => proc.once("exit", (code, signal) => (running.delete(proc), r(code ?? signal ?? -1))));
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  let url: string | undefined;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    url ??= /listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url && /\nready: /.test(out)) return { proc, url, output: () => out, exited };
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!gone) proc.kill("SIGKILL");
  await exited;
  throw new Error(`reclm serve did not become ready:\n${out}`);
}

/** Answers to a fixed list of requests, as text, for comparing two servers byte for byte. */
export async function answersOf(url: string, requests: readonly { path: string; body?: unknown }[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of requests) {
    const res = await fetch(url + r.path, r.body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(r.body) });
    const json = (await res.json()) as Record<string, unknown>;
    // Timings differ run to run; everything else must not.
    delete json.timings;
    out.push(`${res.status} ${JSON.stringify(json)}`);
  }
  return out;
}
