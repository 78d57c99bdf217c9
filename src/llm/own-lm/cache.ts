/**
 * Where reclm keeps its own LM of each dataset when a command needs one and none was given (fine-tuning
 * without --llm): <cache>/lm/<dataset>-<split fingerprint>-<size>/, a normal pretraining run dir. A finished run there
 * (report.json beside model.gguf) is reused; an unfinished one is resumed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SequenceDataset } from "../../contracts.ts";
import { splitFingerprint } from "../../data/stats.ts";
import { cacheDir } from "../../paths.ts";
import { CHECKPOINT_FILE } from "../../train/run-dir.ts";
import { LM_FILE, LM_REPORT_JSON, type LmSize } from "./pretrain.ts";

export function ownLmDir(ds: SequenceDataset, size: LmSize): string {
  return join(cacheDir(), "lm", `${ds.name}-${splitFingerprint(ds).slice(0, 12)}-${size}`);
}

export type OwnLmState = { kind: "ready"; file: string } | { kind: "partial"; dir: string } | { kind: "absent"; dir: string };

export function ownLmState(ds: SequenceDataset, size: LmSize): OwnLmState {
  const dir = ownLmDir(ds, size);
  if (existsSync(join(dir, LM_REPORT_JSON)) && existsSync(join(dir, LM_FILE))) return { kind: "ready", file: join(dir, LM_FILE) };
  if (existsSync(join(dir, CHECKPOINT_FILE))) return { kind: "partial", dir };
  return { kind: "absent", dir };
}
