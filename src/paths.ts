import { existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ReclmError } from "./errors.ts";

/** The package root (where package.json lives), whatever the working directory. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Where the papers' datasets and small models live: $RECLM_SHARED, else ../shared beside the checkout.
 * Returns undefined when neither is there (a fresh machine): callers must then say clearly what is missing, and
 * tests that merely probe for optional data skip. A RECLM_SHARED that names no folder throws instead: the user
 * asked for that path, and silently reading ../shared (or nothing) in its place would hide the typo.
 * An empty RECLM_SHARED counts as unset.
 */
export function sharedDir(): string | undefined {
  const env = process.env.RECLM_SHARED;
  if (env !== undefined && env.length > 0) {
    if (!existsSync(env) || !statSync(env).isDirectory()) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `RECLM_SHARED is set to "${env}", which is not an existing folder (unset it to use ../shared)`, {
        file: env,
        field: "RECLM_SHARED",
      });
    }
    return env;
  }
  const beside = resolve(PACKAGE_ROOT, "../shared");
  return existsSync(beside) ? beside : undefined;
}

/**
 * Prepared datasets, checkpoints of `reclm data prepare`: $RECLM_CACHE, else <package>/.cache.
 * An empty RECLM_CACHE is an error, not "unset": it would otherwise put the cache in the working directory.
 */
export function cacheDir(): string {
  const env = process.env.RECLM_CACHE;
  if (env === "") throw new ReclmError("RECLM_ERR_BAD_CONFIG", "RECLM_CACHE is set but empty (unset it to use <package>/.cache)", { field: "RECLM_CACHE" });
  return env ?? resolve(PACKAGE_ROOT, ".cache");
}
