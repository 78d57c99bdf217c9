import { loadDataset } from "./src/data/index.ts";
const t = Date.now();
const ds = await loadDataset("custom", { interactions: "/tmp/scale/s10m.csv", protocol: "lrurec", cacheDir: "/tmp/scale/cache", refresh: true, memoryLimit: Number(process.argv[2]) * 2 ** 20 });
console.log((Date.now() - t) / 1000, ds.users.length);
