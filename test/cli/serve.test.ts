/** `reclm serve` as a process: starts, answers, stops on SIGTERM, refuses a used port, and survives kill -9. */
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { answersOf, killStartedServers, startServe } from "../helpers/serve-process.ts";
import { spawnedCli } from "../helpers/cli.ts";

const cache = mkdtempSync(join(tmpdir(), "reclm-serve-cli-"));
const env = { RECLM_CACHE: cache };
const ARGS = ["--dataset", "embedded", "--model", "cooc"];

/** Requests whose answers must not change across restarts: users, ids, titles, rank off, excludeSeen both ways. */
const FIXED = [
  ...["1", "2", "77", "1500"].map((u) => ({ path: `/v1/users/${u}/recommendations?k=7` })),
  { path: "/v1/recommend", body: { history: ["3", "10", "42"], k: 10 } },
  { path: "/v1/recommend", body: { history: [3, 10, 42], k: 10, excludeSeen: false } },
  { path: "/v1/recommend", body: { history: [{ title: "Quiet Pilots (1982)" }, "5"], k: 5 } },
  { path: "/v1/recommend", body: { history: ["nope", "5"] } },
  { path: "/v1/items?query=quiet&limit=5" },
  { path: "/v1/items/12" },
];

describe("reclm serve", () => {
  afterAll(killStartedServers);
  it("serves, then on SIGTERM finishes and exits 0", async () => {
    const s = await startServe(ARGS, { env });
    const h = await fetch(`${s.url}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: "ok", dataset: "embedded", model: "cooc" });
    const page = await fetch(`${s.url}/`);
    expect(await page.text()).toContain("<title>reclm</title>");
    s.proc.kill("SIGTERM");
    expect(await s.exited).toBe(0);
    expect(s.output()).toMatch(/SIGTERM: finishing requests in flight, then exiting/);
  });

  it("refuses a port in use with an error naming --port", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const { port } = blocker.address() as { port: number };
    try {
      const { reclm } = spawnedCli("reclm-serve-port-", env);
      const r = await reclm("serve", ...ARGS, "--port", String(port));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`RECLM_ERR_BAD_CONFIG: field "--port": port ${port} on 127.0.0.1 is already in use`));
    } finally {
      blocker.close();
    }
  });

  it("refuses a --ranker that is not a ranker run dir, naming it, and exits 1", async () => {
    const { reclm, tmp } = spawnedCli("reclm-serve-ranker-", env);
    const r = await reclm("serve", ...ARGS, "--ranker", tmp, "--port", "0");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/RECLM_ERR_UNKNOWN_MODEL: .*field "--ranker": not a ranker run dir \(no config\.json\)/);
  });

  it("killed with SIGKILL under load, restarts on the same port and gives identical answers", async () => {
    const first = await startServe(ARGS, { env });
    const before = await answersOf(first.url, FIXED);
    expect(before.filter((a) => a.startsWith("200 ")).length).toBe(FIXED.length - 1);
    // Load from 16 concurrent clients, then kill -9 while it runs.
    let stop = false;
    let answered = 0;
    const clients = Array.from({ length: 16 }, async (_, c) => {
      while (!stop) {
        try {
          const res = await fetch(`${first.url}/v1/recommend`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ history: [String(1 + c), String(100 + (answered % 50))] }) });
          await res.arrayBuffer();
          answered++;
        } catch {
          return; // the server is gone
        }
      }
    });
    while (answered < 200) await new Promise((r) => setTimeout(r, 5));
    first.proc.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    stop = true;
    await Promise.all(clients);
    const port = new URL(first.url).port;
    // startServe passes --port 0 first; the later --port wins.
    const second = await startServe([...ARGS, "--port", port], { env });
    try {
      expect(second.url).toBe(first.url);
      expect(await answersOf(second.url, FIXED)).toEqual(before);
    } finally {
      second.proc.kill("SIGTERM");
      await second.exited;
    }
  });
});
