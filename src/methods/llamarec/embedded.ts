/**
 * The LlamaRec ranker that ships with reclm for the embedded dataset (assets/embedded/, README there): reclm's own tiny
 * LM for it and a LoRA adapter fine-tuned on it, each produced by a documented command. `reclm run` uses them for its
 * LlamaRec stage, so the main job needs no download and no hour of pretraining. The manifest pins their sha256: a
 * changed or damaged file is an error, never a silent substitute.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ReclmError } from "../../errors.ts";
import { sha256File } from "../../io.ts";
import { PACKAGE_ROOT } from "../../paths.ts";
import type { RankerSpec } from "./evaluate.ts";

export const EMBEDDED_ASSETS = join(PACKAGE_ROOT, "assets", "embedded");

interface Manifest {
  lm: { file: string; sha256: string };
  adapter: { file: string; sha256: string };
}

function checked(dir: string, entry: { file: string; sha256: string }): string {
  const file = join(dir, entry.file);
  if (!existsSync(file)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "a file of the embedded LlamaRec ranker is missing (reinstall reclm)", { file });
  const sha = sha256File(file);
  if (sha !== entry.sha256) throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the embedded ranker's file changed (sha256 ${sha.slice(0, 12)}..., the manifest pins ${entry.sha256.slice(0, 12)}...)`, { file, field: "sha256" });
  return file;
}

/** The shipped tiny LM zero-shot and with its fine-tuned adapter, checked against the manifest (`dir`: for tests). */
export function embeddedRankerSpecs(dir: string = EMBEDDED_ASSETS): RankerSpec[] {
  const manifest = join(dir, "manifest.json");
  if (!existsSync(manifest)) throw new ReclmError("RECLM_ERR_FILE_NOT_FOUND", "the embedded LlamaRec ranker is not installed", { file: manifest });
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(manifest, "utf8")) as Manifest;
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the embedded ranker's manifest is not JSON (${(e as Error).message})`, { file: manifest }, { cause: e });
  }
  for (const key of ["lm", "adapter"] as const) {
    const entry = m?.[key];
    if (typeof entry?.file !== "string" || !/^[0-9a-f]{64}$/.test(String(entry?.sha256))) {
      throw new ReclmError("RECLM_ERR_BAD_CHECKPOINT", `the embedded ranker's manifest needs "${key}": { "file", "sha256" }`, { file: manifest, field: key });
    }
  }
  const llm = checked(dir, m.lm);
  return [
    { name: "llamarec-zero-shot", llm },
    { name: "llamarec", llm, adapter: checked(dir, m.adapter) },
  ];
}
