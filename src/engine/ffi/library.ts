/**
 * Where the ggml shared libraries live and which CPU variant to load. The ONE place that knows file names,
 * so a CUDA/Vulkan backend (sibling @node-llama-cpp packages ship the same libs) can be chosen here later.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { PACKAGE_ROOT } from "../../paths.ts";
import { ReclmError } from "../../errors.ts";

export interface GgmlLibraryFiles {
  dir: string;
  /** libggml-base.so: tensors, graphs, autograd, allocators, backend-agnostic calls. */
  base: string;
  /** All libggml-cpu-<arch>.so variants found; the loader picks the best by `ggml_backend_score`. */
  cpuVariants: string[];
}

/** $RECLM_GGML_DIR, else node-llama-cpp's prebuilt linux-x64 CPU binaries. */
export function locateGgml(): GgmlLibraryFiles {
  const candidates = [
    process.env.RECLM_GGML_DIR,
    resolve(PACKAGE_ROOT, "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"),
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
  for (const dir of candidates) {
    const base = join(dir, "libggml-base.so");
    if (!existsSync(base)) continue;
    const cpuVariants = readdirSync(dir)
      .filter((f) => /^libggml-cpu-[a-z0-9]+\.so$/.test(f))
      .sort()
      .map((f) => join(dir, f));
    if (cpuVariants.length === 0) continue;
    return { dir, base, cpuVariants };
  }
  throw new ReclmError(
    "RECLM_ERR_ENGINE",
    `ggml libraries not found (looked in ${candidates.join(", ")}); install node-llama-cpp 3.21.1 or set RECLM_GGML_DIR`,
  );
}
