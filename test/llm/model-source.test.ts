import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isModelUri, modelsDir, resolveLlmFile } from "../../src/llm/model-source.ts";
import { PACKAGE_ROOT } from "../../src/paths.ts";

const GGUF = join(PACKAGE_ROOT, "assets/embedded/lm-tiny.gguf");

describe("resolveLlmFile: a GGUF path or a model URI downloaded once", () => {
  const dir = mkdtempSync(join(tmpdir(), "reclm-models-"));
  const saved = process.env.RECLM_MODELS;
  let server: Server;
  let origin: string;
  let requests = 0;
  beforeAll(async () => {
    // A local host standing in for Hugging Face or any https server: HEAD and GET of one file.
    server = createServer((req, res) => {
      requests++;
      if (!req.url?.endsWith("/lm-tiny.gguf")) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": statSync(GGUF).size });
      if (req.method === "HEAD") res.end();
      else createReadStream(GGUF).pipe(res);
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.RECLM_MODELS = dir;
  });
  afterEach(() => {
    requests = 0;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.RECLM_MODELS;
    else process.env.RECLM_MODELS = saved;
    await new Promise((ok) => server.close(ok));
    rmSync(dir, { recursive: true, force: true });
  });

  it("tells URIs from paths and resolves a path against the working directory without touching it", async () => {
    expect(["hf:user/repo:Q4_K_M", "HF:user/repo/model.gguf", "https://x.org/m.gguf", "http://h/m.gguf", "huggingface:user/repo"].every(isModelUri)).toBe(true);
    expect(["model.gguf", "/abs/m.gguf", "./hf/m.gguf", "runs/https.gguf"].some(isModelUri)).toBe(false);
    expect(await resolveLlmFile("no/such/model.gguf")).toBe(resolve("no/such/model.gguf"));
    expect(modelsDir()).toBe(dir);
  });

  it("downloads a URI once into the models folder, then reuses it with the host gone", async () => {
    const uri = `${origin}/models/lm-tiny.gguf`;
    const progress: number[] = [];
    const file = await resolveLlmFile(uri, { onProgress: (p) => progress.push(p.done) });
    expect(file.startsWith(dir)).toBe(true);
    expect(readFileSync(file).equals(readFileSync(GGUF))).toBe(true);
    expect(progress.at(-1)).toBe(statSync(GGUF).size);
    expect(requests).toBeGreaterThan(0);
    requests = 0;
    expect(await resolveLlmFile(uri)).toBe(file);
    expect(requests).toBe(0); // the record beside the file answers: no network
  });

  it("refuses an unreachable host at once, naming the URI and the flag, and leaves nothing behind", async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((ok) => closed.close(ok));
    const uri = `http://127.0.0.1:${port}/m.gguf`;
    const t0 = Date.now();
    await expect(resolveLlmFile(uri, { field: "llm" })).rejects.toThrow(
      new RegExp(`^field "llm": cannot download ${uri.replace(/[.]/g, "\\.")}: http://127\\.0\\.0\\.1:${port} is not reachable from here \\(.*ECONNREFUSED.*\\)\\. On a machine that cannot reach it, download the GGUF`),
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(resolveLlmFile(uri)).rejects.toMatchObject({ code: "RECLM_ERR_DOWNLOAD", statusCode: 502 });
    expect(existsSync(join(dir, "m.gguf"))).toBe(false);
  });

  it("names a download the host refuses, and a URI that is not a URL", async () => {
    await expect(resolveLlmFile(`${origin}/missing.gguf`)).rejects.toMatchObject({ code: "RECLM_ERR_DOWNLOAD", message: expect.stringMatching(/cannot download http:\/\/127\.0\.0\.1:\d+\/missing\.gguf: /) });
    await expect(resolveLlmFile("https://exa mple/m.gguf")).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG", message: expect.stringMatching(/"https:\/\/exa mple\/m\.gguf" is not a valid URL/) });
  });
});
