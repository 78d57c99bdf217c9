/**
 * Where the ggml shared libraries live and which CPU variant to load. The ONE place that knows file names,
 * so a CUDA/Vulkan backend (sibling @node-llama-cpp packages ship the same libs) can be chosen here later.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { ReclmError } from "../../errors.ts";

export interface GgmlLibraryFiles {
  dir: string;
  /** libggml-base.so: tensors, graphs, autograd, allocators, backend-agnostic calls. */
  base: string;
  /** All libggml-cpu-<arch>.so variants found; the loader picks the best by `ggml_backend_score`. */
  cpuVariants: string[];
  /** "RECLM_GGML_DIR=<dir>" when the directory came from the environment, for error messages. */
  origin?: string;
}

/**
 * node-llama-cpp's prebuilt linux-x64 package as Node resolves it from node-llama-cpp itself: in a checkout it sits in
 * reclm's node_modules, installed as a dependency it is hoisted into the consumer's (or nested under node-llama-cpp).
 */
function bundledGgmlDir(): string {
  const fromReclm = createRequire(import.meta.url);
  try {
    const fromLlama = createRequire(fromReclm.resolve("node-llama-cpp"));
    return resolve(dirname(fromLlama.resolve("@node-llama-cpp/linux-x64")), "../bins/linux-x64");
  } catch (e) {
    return `@node-llama-cpp/linux-x64 (not resolvable: ${(e as Error).message.split("\n")[0]})`;
  }
}

/**
 * $RECLM_GGML_DIR, else node-llama-cpp's prebuilt linux-x64 CPU binaries. Arguments default to the environment and
 * the bundled location; tests pass them, since the libraries themselves load once per process.
 */
export function locateGgml(envDir: string | undefined = process.env.RECLM_GGML_DIR, bundledDir: string = bundledGgmlDir()): GgmlLibraryFiles {
  // A set but unusable override is an error, not a fallback: silently running the bundled build would hide that the
  // libraries asked for (a CUDA build, a patched ggml) are not the ones running.
  if (envDir) {
    const origin = `RECLM_GGML_DIR=${envDir}`;
    const files = findIn(envDir);
    if (typeof files === "string") throw new ReclmError("RECLM_ERR_ENGINE", `${origin} is unusable: ${files}`);
    return { ...files, origin };
  }
  const files = findIn(bundledDir);
  if (typeof files === "string") {
    throw new ReclmError("RECLM_ERR_ENGINE", `ggml libraries not found (${files}); install node-llama-cpp 3.21.1 or set RECLM_GGML_DIR`);
  }
  return files;
}

/** The libraries in `dir`, or why there are none. */
function findIn(dir: string): GgmlLibraryFiles | string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return `${dir} is not a directory`;
  const base = join(dir, "libggml-base.so");
  if (!existsSync(base)) return `${base} does not exist`;
  const cpuVariants = readdirSync(dir)
    .filter((f) => /^libggml-cpu-[a-z0-9]+\.so$/.test(f))
    .sort()
    .map((f) => join(dir, f));
  if (cpuVariants.length === 0) return `no libggml-cpu-<arch>.so in ${dir}`;
  return { dir, base, cpuVariants };
}
