/**
 * Where an LLM comes from: a GGUF file, or a model URI that node-llama-cpp downloads once and reclm reuses —
 * `hf:<user>/<repo>:<quant>`, `hf:<user>/<repo>/<file.gguf>`, `https://…/model.gguf` (node-llama-cpp's schemes).
 *
 * Downloads go to $RECLM_MODELS, else <cache>/models. A URI fetched once is recorded beside its file, so later runs
 * (and machines with no network) reuse it without asking the host again. Before any download the host is probed with
 * a short timeout: node-llama-cpp's downloader retries an unreachable host for minutes, so a machine without access
 * (this project's CI, an air-gapped cluster) gets a clear error at once naming the URI and what to do instead.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createModelDownloader } from "node-llama-cpp";
import type { Progress } from "../contracts.ts";
import { ReclmError } from "../errors.ts";
import { writeFileAtomic } from "../io.ts";
import { cacheDir } from "../paths.ts";

const URI = /^(hf:|huggingface:|https?:\/\/)/i;
const ELSEWHERE = "On a machine that cannot reach it, download the GGUF where you can and give its path instead";

/** Whether `spec` is a model URI rather than a file path. */
export function isModelUri(spec: string): boolean {
  return URI.test(spec);
}

/** Where downloaded models live: $RECLM_MODELS, else <cache>/models. */
export function modelsDir(): string {
  const env = process.env.RECLM_MODELS;
  if (env === "") throw new ReclmError("RECLM_ERR_BAD_CONFIG", "RECLM_MODELS is set but empty (unset it to use <cache>/models)", { field: "RECLM_MODELS" });
  return env ?? join(cacheDir(), "models");
}

export interface ResolveLlmOptions {
  /** The flag or field that named the model, for errors (default "--llm"). */
  field?: string;
  onProgress?: (p: Progress) => void;
  /** How long the host may take to answer the probe (default 10 s). */
  probeTimeoutMs?: number;
}

/** The host a URI downloads from: Hugging Face (or $HF_ENDPOINT) for hf:, the URL's own origin otherwise. */
export function hostOf(uri: string): string {
  if (/^(hf|huggingface):/i.test(uri)) return process.env.HF_ENDPOINT ?? "https://huggingface.co";
  return new URL(uri).origin;
}

function recordFile(dir: string, uri: string): string {
  return join(dir, `uri-${createHash("sha256").update(uri).digest("hex").slice(0, 16)}.json`);
}

/**
 * The local GGUF path for `spec`: a path as given (resolved against the working directory), or a URI's downloaded
 * file, downloading it first when it has not been. Missing files are the loaders' to report; an unreachable host or a
 * failed download is a ReclmError (RECLM_ERR_DOWNLOAD) naming the URI.
 */
export async function resolveLlmFile(spec: string, options: ResolveLlmOptions = {}): Promise<string> {
  if (!isModelUri(spec)) return resolve(spec);
  const field = options.field ?? "--llm";
  const dir = modelsDir();
  const record = recordFile(dir, spec);
  if (existsSync(record)) {
    const { uri, file } = JSON.parse(readFileSync(record, "utf8")) as { uri: string; file: string };
    if (uri === spec && existsSync(file)) return file;
  }
  const fail = (why: string, cause: unknown): never => {
    throw new ReclmError("RECLM_ERR_DOWNLOAD", `cannot download ${spec}: ${why}. ${ELSEWHERE}`, { field }, { cause });
  };
  let host: string;
  try {
    host = hostOf(spec);
  } catch (e) {
    throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${JSON.stringify(spec)} is not a valid URL (${(e as Error).message})`, { field }, { cause: e });
  }
  try {
    await fetch(host, { method: "HEAD", redirect: "manual", signal: AbortSignal.timeout(options.probeTimeoutMs ?? 10_000) });
  } catch (e) {
    const reason = (e as Error).name === "TimeoutError" ? "no answer within the timeout" : ((e as { cause?: Error }).cause?.message ?? (e as Error).message);
    return fail(`${host} is not reachable from here (${reason})`, e);
  }
  mkdirSync(dir, { recursive: true });
  let file: string;
  try {
    const downloader = await createModelDownloader({
      modelUri: spec,
      dirPath: dir,
      showCliProgress: false,
      onProgress: ({ totalSize, downloadedSize }) => options.onProgress?.({ stage: `download ${spec}`, done: downloadedSize, total: totalSize, unit: "bytes" }),
    });
    file = await downloader.download();
  } catch (e) {
    return fail((e as Error).message, e);
  }
  writeFileAtomic(record, `${JSON.stringify({ uri: spec, file }, null, 2)}\n`);
  return file;
}
