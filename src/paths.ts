import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (where package.json lives), whatever the working directory. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Where the papers' datasets and small models live: $RECLM_SHARED, else ../shared beside the checkout.
 * Returns undefined when absent (a fresh machine): callers must then say clearly what is missing.
 */
export function sharedDir(): string | undefined {
  const candidates = [process.env.RECLM_SHARED, resolve(PACKAGE_ROOT, "../shared")].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  return candidates.find((p) => existsSync(p));
}

/** Prepared datasets, checkpoints of `reclm data prepare`: $RECLM_CACHE, else <package>/.cache. */
export function cacheDir(): string {
  return process.env.RECLM_CACHE ?? resolve(PACKAGE_ROOT, ".cache");
}
