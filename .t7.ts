import { ItemIndex } from "./src/models/ann.ts";
import { Rng } from "./src/rng.ts";
const rng = new Rng(1); const n = 20000, dim = 64;
const v = Float32Array.from({ length: n * dim }, () => rng.normal());
for (const t of [1, 2, 0]) { const idx = ItemIndex.build(v, dim, {}, t); console.log(t, idx.meta.buildSeconds); }
for (const s of [{ expansionAdd: 128 }, { connectivity: 16, expansionAdd: 128 }]) { const idx = ItemIndex.build(v, dim, s, 1); console.log(JSON.stringify(s), idx.meta.buildSeconds); }
