export * from "./metrics.ts";
export * from "./history.ts";
export * from "./full-ranking.ts";
export * from "./candidates.ts";
export * from "./llamarec.ts";
export * from "./generation.ts";
export * from "./report.ts";
export * from "./fusion.ts";
