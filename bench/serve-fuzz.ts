/**
 * The long form of test/serve/fuzz.test.ts: tens of thousands of malformed requests (fast-check, every route) at a
 * served dataset and model, through inject. Every answer must be a 2xx (a mutation that happens to be valid) or a
 * documented 4xx naming the field; a 5xx or a thrown error fails the run. bench/results/serve-fuzz.json keeps the count.
 *   npx tsx bench/serve-fuzz.ts --dataset ml-latest-small --models cooc,lrurec=/work/runs/serve-lrurec --runs 10000 --seed 24
 */
import { parseArgs } from "node:util";
import { loadDataset } from "../src/data/index.ts";
import { resolveModel } from "../src/models/resolve.ts";
import { buildApp } from "../src/serve/app.ts";
import { fuzzApp } from "../test/serve/fuzz-requests.ts";
import { writeBenchResult, type BenchRow } from "./lib/results.ts";

const { values } = parseArgs({
  options: {
    dataset: { type: "string", default: "ml-latest-small" },
    models: { type: "string", default: "cooc" },
    runs: { type: "string", default: "20000" },
    seed: { type: "string", default: "24" },
    threads: { type: "string", default: "1" },
  },
});
const ds = await loadDataset(values.dataset!);
const rows: BenchRow[] = [];
let failed = false;
for (const spec of values.models!.split(",")) {
  const [name, model = name] = spec.split("=");
  const retriever = await resolveModel(model, ds, { split: "test", threads: Number(values.threads) });
  const app = await buildApp({ models: { dataset: ds, retriever } });
  const t0 = performance.now();
  const tally = await fuzzApp(app, Number(values.runs), Number(values.seed));
  const seconds = (performance.now() - t0) / 1000;
  await app.close();
  const count = (pred: (s: number) => boolean) => Object.entries(tally.byStatus).filter(([s]) => pred(Number(s))).reduce((a, [, n]) => a + n, 0);
  for (const b of tally.breaches.slice(0, 10)) console.log(`${name}: breach: ${b.why}: ${b.req.method} ${b.req.url.slice(0, 120)}`);
  failed ||= tally.breaches.length > 0 || count((s) => s >= 500) > 0;
  rows.push({
    method: name,
    dataset: ds.name,
    protocol: "serve-fuzz",
    metrics: {
      requests: tally.requests,
      status_2xx: count((s) => s >= 200 && s < 300),
      status_4xx: count((s) => s >= 400 && s < 500),
      status_5xx: count((s) => s >= 500),
      contract_breaches: tally.breaches.length,
      seconds: Number(seconds.toFixed(1)),
    },
    notes: `retriever ${model}; fast-check seed ${values.seed}, test/serve/fuzz-requests.ts's generator (every route; mutated bodies, query strings, path segments, methods, content types); answers by status: ${JSON.stringify(tally.byStatus)}; a contract breach = a status other than 2xx/400/404/413/414/415, or a 4xx whose body is not the ErrorResponse naming a field; a thrown error (crash) would have failed the run`,
  });
}
writeBenchResult({ benchmark: "serve-fuzz", command: `npx tsx bench/serve-fuzz.ts ${process.argv.slice(2).join(" ")}`.trim(), inputs: [], rows });
if (failed) process.exitCode = 1;
