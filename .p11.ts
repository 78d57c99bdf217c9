import { Duck } from "./src/data/duck/connection.ts";
const orig = { run: Duck.prototype.run, value: Duck.prototype.value, scan: Duck.prototype.scan, strings: Duck.prototype.strings, rows: Duck.prototype.rows };
for (const k of Object.keys(orig) as (keyof typeof orig)[]) {
  (Duck.prototype as any)[k] = async function (this: Duck, sql: string, ...a: unknown[]) { const t = Date.now(); const r = await (orig[k] as any).call(this, sql, ...a); const d = (Date.now() - t) / 1000; if (d > 0.04) console.log(d.toFixed(2), k, sql.replace(/\s+/g, " ").slice(0, 150)); return r; };
}
const { loadDataset } = await import("./src/data/index.ts");
const t = Date.now();
const t1 = Date.now(); await loadDataset("custom", { interactions: "/tmp/reclm-data-scale/synthetic-1m.csv", protocol: "lrurec", cacheDir: "/tmp/scale/cache", refresh: true });
console.log((Date.now() - t) / 1000);
