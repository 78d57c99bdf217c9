import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readGgufHeader } from "../../../src/llm/runtime.ts";
import { EMBEDDED_ASSETS, embeddedRankerSpecs } from "../../../src/methods/llamarec/embedded.ts";

const dir = mkdtempSync(join(tmpdir(), "reclm-embedded-ranker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the LlamaRec ranker that ships for the embedded dataset (assets/embedded)", () => {
  it("is reclm's own LM for the embedded data and a LoRA adapter of it, both pinned by the manifest", async () => {
    const [zeroShot, tuned] = embeddedRankerSpecs();
    expect(zeroShot).toEqual({ name: "llamarec-zero-shot", llm: tuned.llm });
    const lm = await readGgufHeader(tuned.llm);
    expect(lm.metadata["general.architecture"]).toBe("llama");
    expect(lm.metadata["llama.context_length"]).toBe(512);
    // byte-level BPE learned from the embedded text: the 256 bytes, then merges up to the tiny size's cap of 2,048
    expect(lm.metadata["llama.vocab_size"]).toBeGreaterThan(256);
    expect(lm.metadata["llama.vocab_size"]).toBeLessThanOrEqual(2048);
    expect(lm.metadata["tokenizer.ggml.pre"]).toBe("trillion");
    const adapter = await readGgufHeader(tuned.adapter!);
    expect(adapter.metadata["adapter.type"]).toBe("lora");
    expect(adapter.tensors.some((t) => t.name.startsWith("blk.0.attn_q.weight.lora_"))).toBe(true);
  });

  it("refuses a changed file, a missing file and a broken manifest, naming them", () => {
    const copy = join(dir, "assets");
    const manifest = JSON.parse(readFileSync(join(EMBEDDED_ASSETS, "manifest.json"), "utf8")) as { lm: { file: string }; adapter: { file: string } };
    const files = [manifest.lm.file, manifest.adapter.file, "manifest.json"];
    const fresh = () => {
      rmSync(copy, { recursive: true, force: true });
      mkdirSync(copy);
      for (const f of files) copyFileSync(join(EMBEDDED_ASSETS, f), join(copy, f));
    };
    fresh();
    expect(embeddedRankerSpecs(copy)).toHaveLength(2);
    const adapterFile = join(copy, manifest.adapter.file);
    const bytes = readFileSync(adapterFile);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(adapterFile, bytes);
    expect(() => embeddedRankerSpecs(copy)).toThrow(new RegExp(`${manifest.adapter.file}.*the embedded ranker's file changed`, "s"));
    fresh();
    rmSync(join(copy, manifest.lm.file));
    expect(() => embeddedRankerSpecs(copy)).toThrow(/missing/);
    fresh();
    writeFileSync(join(copy, "manifest.json"), '{"lm": {"file": "x.gguf"}}');
    expect(() => embeddedRankerSpecs(copy)).toThrow(/manifest needs "lm"/);
  });
});
