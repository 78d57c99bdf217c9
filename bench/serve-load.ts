/**
 * Load tests of `reclm serve` (bench/results/serve-load.json, protocol serve-load): autocannon against 127.0.0.1
 * only, every run bounded in time. Per method:
 *   1. capacity: the offered rate (POST /v1/recommend, histories of real users) is raised by 25% per step of
 *      --step-s seconds while the server keeps up: >= 95% of it answered, every answer 2xx. The last rate that kept
 *      up is the capacity (latency is measured there, not used to find it).
 *   2. at capacity for --capacity-s: p50_ms, p99_ms, req_per_s; then the same once more with bursty arrivals.
 * Arrivals: autocannon's rate limit gives each connection a quota per second that it sends back to back from the
 * start of every second, and all connections of one autocannon start together; so a "rate" arrives as one burst of
 * every connection at once, and at capacity each request waits behind the whole burst (one client per 50 req/s makes
 * the median wait about 1/50 s whatever the server does). "staggered" (the default) splits the load over --waves
 * autocannon instances started 1/waves s apart, each with its share of the rate and the clients: the same rate and
 * clients, arriving in `waves` smaller bursts per second. "bursty" is one instance, as before.
 *   3. at twice the capacity for --overload-s: errors (answers other than 2xx and the designed 503, plus socket errors
 *      and timeouts), shed (the share of 503s), rss_growth (server RSS after / before - 1).
 *   4. kill -9 during load, restart on the same port: the same fixed requests get byte-identical answers.
 * The machine's load average (uptime) before and after goes into each row's notes: other work on the box moves
 * these numbers.
 *   npx tsx bench/serve-load.ts --dataset ml-latest-small --methods cooc,lrurec=/work/runs/serve-lrurec --threads 1
 * A method `name=<retriever>+<ranker run dir>` serves with `--ranker` and sends `"rank": true` (LlamaRec: the LLM
 * re-orders the retriever's top 20 per request); its capacity search starts at --ranker-start-rate.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { loadDataset } from "../src/data/index.ts";
import { ReclmError } from "../src/errors.ts";
import { sharedDir } from "../src/paths.ts";
import { answersOf, startServe, type ServeProcess } from "../test/helpers/serve-process.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values } = parseArgs({
  options: {
    dataset: { type: "string", default: "ml-latest-small" },
    methods: { type: "string", default: "cooc,lrurec=/work/runs/serve-lrurec" },
    threads: { type: "string", default: "1" },
    "max-batch": { type: "string", default: "4" },
    "max-queue": { type: "string", default: "64" },
    "start-rate": { type: "string", default: "20" },
    "ranker-start-rate": { type: "string", default: "2" },
    "max-rate": { type: "string", default: "4000" },
    "step-s": { type: "string", default: "6" },
    "capacity-s": { type: "string", default: "20" },
    "overload-s": { type: "string", default: "60" },
    "history-len": { type: "string", default: "30" },
    arrivals: { type: "string", default: "staggered" },
    waves: { type: "string", default: "10" },
    out: { type: "string", default: "serve-load" },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
type Arrivals = "staggered" | "bursty";
if (values.arrivals !== "staggered" && values.arrivals !== "bursty") throw new Error(`--arrivals must be staggered or bursty, got "${values.arrivals}"`);
const ARRIVALS: Arrivals = values.arrivals;

const uptime = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;

const ds = await loadDataset(values.dataset!);
const raw = (i: number) => ds.catalog.items[i].rawId;
// Histories of real users (their last items, as a client would send them), in a fixed order.
const historyOf = (u: number) => Array.from(ds.train[u].subarray(Math.max(0, ds.train[u].length - num("history-len"))), raw);
const plainBodies = ds.users.map((_, u) => JSON.stringify({ history: historyOf(u), k: 10 }));
const rankBodies = ds.users.map((_, u) => JSON.stringify({ history: historyOf(u), k: 10, rank: true }));
/** The request bodies of the method under test (with `rank: true` when it has a ranker). */
let bodies = plainBodies;

interface Run {
  offered: number;
  achieved: number;
  p50: number;
  p99: number;
  byStatus: Record<string, number>;
  socketErrors: number;
  timeouts: number;
  total: number;
}

/**
 * autocannon's coordinated-omission correction assumes a 1 ms interval (it back-fills a sample for every millisecond a
 * response took beyond that), which turns one slow batch into dozens of recorded latencies. So latencies are recorded
 * as measured (every response's time, from autocannon's "response" events, percentiles over all of them), and
 * whether the rate was met is checked from what was answered. Staggered arrivals: see the header.
 */
async function load(url: string, rate: number, seconds: number, connections: number, arrivals: Arrivals = ARRIVALS): Promise<Run> {
  let next = 0;
  const waves = arrivals === "staggered" ? Math.max(1, Math.min(num("waves"), connections, rate)) : 1;
  const share = (n: number, i: number) => Math.floor(n / waves) + (i < n % waves ? 1 : 0);
  const times: number[] = [];
  const results = await Promise.all(
    Array.from({ length: waves }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * 1000) / waves));
      const run = autocannon({
        ignoreCoordinatedOmission: true,
        url: `${url}/v1/recommend`,
        method: "POST",
        headers: { "content-type": "application/json" },
        connections: share(connections, i),
        duration: seconds,
        overallRate: share(rate, i),
        timeout: 15,
        requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[next++ % bodies.length] }) }],
      });
      // Without a callback autocannon returns its tracker (an EventEmitter) made thenable; its types show the promise only.
      (run as unknown as { on(event: "response", f: (client: unknown, status: number, bytes: number, ms: number) => void): void }).on("response", (_c, _s, _b, ms) => times.push(ms));
      return await run;
    }),
  );
  const byStatus: Record<string, number> = {};
  let socketErrors = 0, timeouts = 0;
  for (const r of results) {
    for (const [code, st] of Object.entries(r.statusCodeStats ?? {})) byStatus[code] = (byStatus[code] ?? 0) + (st as { count: number }).count;
    socketErrors += r.errors;
    timeouts += r.timeouts;
  }
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  times.sort((a, b) => a - b);
  const pct = (q: number) => (times.length ? Number(times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)].toFixed(1)) : NaN);
  return { offered: rate, achieved: total / seconds, p50: pct(0.5), p99: pct(0.99), byStatus, socketErrors, timeouts, total };
}

/** Concurrent clients for a rate: one per 50 req/s, at least 4 (a full batch). */
const clients = (rate: number) => Math.max(4, Math.ceil(rate / 50));
const OVERLOAD_CLIENTS = 128;

const ok2xx = (r: Run) => Object.entries(r.byStatus).every(([c]) => c.startsWith("2")) && r.socketErrors === 0 && r.timeouts === 0;

async function capacity(url: string, startRate: number): Promise<{ rate: number; steps: string[] }> {
  const steps: string[] = [];
  let rate = startRate;
  let good = 0;
  while (rate <= num("max-rate")) {
    const r = await load(url, rate, num("step-s"), clients(rate));
    const kept = r.achieved >= 0.95 * rate && ok2xx(r);
    steps.push(`${rate}/s: ${r.achieved.toFixed(0)}/s answered, p99 ${r.p99} ms, ${JSON.stringify(r.byStatus)}${kept ? "" : " (not kept up)"}`);
    console.log(`  ${steps.at(-1)}`);
    if (!kept) break;
    good = rate;
    rate = Math.max(rate + 1, Math.round(rate * 1.25));
  }
  if (good === 0) throw new ReclmError("RECLM_ERR_INTERNAL", `the server did not keep up with ${startRate} req/s: lower --start-rate (or --ranker-start-rate)`);
  return { rate: good, steps };
}

/** Fixed requests whose answers must survive kill -9: users, raw-id histories. */
const FIXED = [
  ...ds.users.slice(0, 5).map((u) => ({ path: `/v1/users/${u}/recommendations?k=10` })),
  ...[0, 7, 42].map((u) => ({ path: "/v1/recommend", body: JSON.parse(plainBodies[u]) as unknown })),
];

async function killNine(s: ServeProcess, args: string[]): Promise<{ identical: boolean; answered: number }> {
  const before = await answersOf(s.url, FIXED);
  const running = load(s.url, 100, 4, 8, "bursty").catch(() => undefined);
  await new Promise((r) => setTimeout(r, 2000));
  s.proc.kill("SIGKILL");
  await s.exited;
  await running;
  const again = await startServe([...args, "--port", new URL(s.url).port]);
  try {
    const after = await answersOf(again.url, FIXED);
    return { identical: JSON.stringify(after) === JSON.stringify(before), answered: before.filter((a) => a.startsWith("200 ")).length };
  } finally {
    again.proc.kill("SIGTERM");
    await again.exited;
  }
}

const rows: BenchRow[] = [];
const commands: string[] = [];
for (const spec of values.methods!.split(",")) {
  const [name, served = name] = spec.split("=");
  const [model, ranker] = served.split("+");
  const args = ["--dataset", ds.name, "--model", model, ...(ranker ? ["--ranker", ranker] : []), "--threads", values.threads!, "--max-batch", values["max-batch"]!, "--max-queue", values["max-queue"]!];
  bodies = ranker ? rankBodies : plainBodies;
  commands.push(`reclm serve ${args.join(" ")}`);
  console.log(`${name}: reclm serve ${args.join(" ")}`);
  const s = await startServe(args, { readyTimeoutMs: 180_000 });
  // A failed run must not leave its server behind (killNine ends it on success).
  const orphanGuard = () => s.proc.kill("SIGKILL");
  process.once("exit", orphanGuard);
  const pid = s.proc.pid!;
  await load(s.url, 20, 2, 4); // warm-up: connections, JIT; not recorded
  const load0 = uptime();
  const cap = await capacity(s.url, num(ranker ? "ranker-start-rate" : "start-rate"));
  const atCap = await load(s.url, cap.rate, num("capacity-s"), clients(cap.rate));
  console.log(`  capacity ${cap.rate}/s (${ARRIVALS}): p50 ${atCap.p50} ms, p99 ${atCap.p99} ms, ${atCap.achieved.toFixed(1)} req/s, ${JSON.stringify(atCap.byStatus)}`);
  const other: Arrivals = ARRIVALS === "staggered" ? "bursty" : "staggered";
  const atCapOther = await load(s.url, cap.rate, num("capacity-s"), clients(cap.rate), other);
  console.log(`  capacity ${cap.rate}/s (${other}): p50 ${atCapOther.p50} ms, p99 ${atCapOther.p99} ms, ${atCapOther.achieved.toFixed(1)} req/s, ${JSON.stringify(atCapOther.byStatus)}`);
  const load1 = uptime();
  const rss0 = rssOf(pid);
  // Many clients at once, as an overload is: more than the queue holds, so the server must shed.
  const over = await load(s.url, 2 * cap.rate, num("overload-s"), OVERLOAD_CLIENTS, "bursty");
  const rss1 = rssOf(pid);
  const load2 = uptime();
  const shed = (over.byStatus["503"] ?? 0) / Math.max(1, over.total);
  const errors = Object.entries(over.byStatus).filter(([c]) => !c.startsWith("2") && c !== "503").reduce((a, [, n]) => a + n, 0) + over.socketErrors + over.timeouts;
  console.log(`  2x ${2 * cap.rate}/s for ${num("overload-s")} s: ${JSON.stringify(over.byStatus)}, socket errors ${over.socketErrors}, timeouts ${over.timeouts}, RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB`);
  const k9 = await killNine(s, args);
  process.off("exit", orphanGuard);
  console.log(`  kill -9 under load, restart: ${k9.identical ? "identical" : "DIFFERENT"} answers to ${FIXED.length} requests`);
  const common = `reclm serve ${args.slice(4).join(" ")} (retriever ${model}${ranker ? `, ranker ${ranker}` : ""}); POST /v1/recommend${ranker ? ' with "rank": true' : ""}, k 10, histories = the last ${num("history-len")} train items of the dataset's users in turn; autocannon on 127.0.0.1, same machine, latencies as measured (ignoreCoordinatedOmission: its correction assumes a 1 ms interval), one client per 50 req/s (at least 4)`;
  const how = (a: Arrivals) =>
    a === "staggered"
      ? `staggered arrivals: ${num("waves")} autocannon instances started ${1000 / num("waves")} ms apart, each with 1/${num("waves")} of the rate and the clients (autocannon sends a connection's per-second quota back to back from the start of each second)`
      : "bursty arrivals: one autocannon instance, every connection sending its per-second quota back to back from the start of each second, all at once";
  for (const [arrivals, r] of [[ARRIVALS, atCap], [other, atCapOther]] as const) {
    rows.push({
      method: name,
      dataset: ds.name,
      protocol: "serve-load",
      variant: { load: "capacity", arrivals },
      headline: arrivals === "staggered",
      metrics: { p50_ms: r.p50, p99_ms: r.p99, req_per_s: Number(r.achieved.toFixed(1)), offered_req_per_s: cap.rate },
      notes: `${common}; ${how(arrivals)}; capacity = the highest offered rate kept up with (>= 95% answered, all 2xx; ${ARRIVALS} arrivals), steps of ${num("step-s")} s: ${cap.steps.join("; ")}; then ${num("capacity-s")} s at it: ${JSON.stringify(r.byStatus)}; load average (uptime 1/5/15 min) ${load0} before, ${load1} after`,
    });
  }
  rows.push({
    method: name,
    dataset: ds.name,
    protocol: "serve-load",
    variant: { load: "2x-capacity" },
    metrics: { errors, shed: Number(shed.toFixed(4)), rss_growth: Number((rss1 / rss0 - 1).toFixed(4)), offered_req_per_s: 2 * cap.rate, answered_req_per_s: Number(over.achieved.toFixed(1)), p99_ms: over.p99, restart_identical: k9.identical ? 1 : 0 },
    notes: `${common}; ${num("overload-s")} s at ${2 * cap.rate} req/s offered by ${OVERLOAD_CLIENTS} clients (bursty arrivals: an overload arrives at once): ${JSON.stringify(over.byStatus)}, socket errors ${over.socketErrors}, timeouts ${over.timeouts}; errors = answers other than 2xx and 503 + socket errors + timeouts; shed = 503 / answers; RSS ${(rss0 / 2 ** 20).toFixed(1)} MiB before, ${(rss1 / 2 ** 20).toFixed(1)} MiB after; then kill -9 during 100 req/s of load and a restart on the same port: ${FIXED.length} fixed requests (5 users, 3 histories) answered ${k9.identical ? "byte-identically (timings aside)" : "DIFFERENTLY"}; load average ${load1} before, ${load2} after`,
  });
}

const inputs = [
  ...["ratings.csv", "movies.csv"].map((f) => join(sharedDir() ?? "", "data", ds.name, f)).filter((p) => existsSync(p)),
  ...values.methods!.split(",").flatMap((spec) => {
    const [dir, ranker] = (spec.split("=")[1] ?? "").split("+");
    return [...(dir ? [join(dir, "config.json"), join(dir, "model.safetensors")] : []), ...(ranker ? [join(ranker, "config.json"), join(ranker, "adapter.gguf")] : [])];
  }),
];
writeBenchResult({
  benchmark: values.out!,
  inputs,
  command: `npx tsx bench/serve-load.ts ${process.argv.slice(2).join(" ")}`.trim() + ` (servers: ${commands.join("; ")})`,
  rows,
});
