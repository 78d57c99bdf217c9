import { loadDataset, datasetStats } from "./src/data/index.ts";
const t = Date.now();
const ds = await loadDataset("custom", { interactions: "/tmp/scale/s10m.csv", protocol: "lrurec", cacheDir: "/tmp/scale/cache", refresh: true, onProgress: (p) => console.log(((Date.now() - t) / 1000).toFixed(1), p.stage, (process.memoryUsage().rss / 2 ** 20).toFixed(0)) });
console.log(datasetStats(ds), (Date.now() - t) / 1000, "s");
