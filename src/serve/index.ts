/** The service's public API: build the app (tests inject, `reclm serve` listens), open a ranker, listen, stop. */
export { buildApp, type AppOptions, type ServeModels } from "./app.ts";
export { DEFAULT_MAX_BATCH, ScoreBatcher, type BatcherOptions } from "./batcher.ts";
export { CatalogIndex, type ApiItem } from "./catalog.ts";
export { normalizeTitle } from "../data/catalog-lookup.ts";
export { LIMITS } from "./schemas.ts";
export { loadRanker, type LoadRankerOptions } from "./rankers.ts";
export { closeGracefully, listen } from "./server.ts";
