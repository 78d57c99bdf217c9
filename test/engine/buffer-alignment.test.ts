import { afterAll, describe, expect, it } from "vitest";
import { compile, Engine, ParamStore } from "../../src/engine/index.ts";
import { addressOf, alignedBufferType, tensorHasBuffer } from "../../src/engine/ffi/ggml.ts";
import { Rng } from "../../src/rng.ts";

const engine = Engine.create({ threads: 1 });
afterAll(() => engine.dispose());
const B = engine.ggml.base;
const dataAt = (t: unknown) => addressOf(B.ggml_get_data(t));

describe("64-byte aligned buffers (engine.bufferType)", () => {
  it("is the CPU buffer type with 64-byte alignment instead of 32", () => {
    const cpu = B.ggml_backend_get_default_buffer_type(engine.backend);
    expect(Number(B.ggml_backend_buft_get_alignment(cpu))).toBe(32);
    expect(Number(B.ggml_backend_buft_get_alignment(engine.bufferType))).toBe(64);
    expect(B.ggml_backend_buft_name(engine.bufferType)).toBe(B.ggml_backend_buft_name(cpu));
    expect(B.ggml_backend_buft_is_host(engine.bufferType)).toBe(true);
    // one wrapper per type and alignment, however many engines
    expect(alignedBufferType(engine.ggml, cpu)).toBe(engine.bufferType);
  });

  it("places parameters and every tensor of a graph at 64-byte boundaries, small odd-sized ones included", () => {
    const store = new ParamStore(engine);
    const small = store.add("small", [3], { init: { kind: "normal", std: 1 } }); // 12 bytes: the next one would sit at 32 mod 64 under the CPU type
    const w = store.add("w", [40, 24], { init: { kind: "normal", std: 0.2 } });
    store.initialize(new Rng(1));
    const g = compile(engine, {
      mode: "grad",
      params: store,
      build: (b) => {
        const ids = b.input("ids", [8], "i32"); // 32 bytes
        const x = b.embedding(w, ids); // [8, 24]
        const y = b.add(b.linear(x, b.constant(0.1, [24, 24])), b.sum(small));
        return { loss: b.sum(b.sqr(y)) };
      },
    });
    try {
      g.run({ ids: Int32Array.from([0, 3, 5, 7, 9, 11, 13, 39]) });
      for (const p of [small, w]) expect(dataAt(p.ptr) % 64n).toBe(0n);
      const gf = (g as unknown as { gf: unknown }).gf;
      let placed = 0;
      for (let i = 0; i < g.nodeCount; i++) {
        const node = B.ggml_graph_node(gf, i);
        if (!tensorHasBuffer(node) || String(B.ggml_op_desc(node)).match(/VIEW|RESHAPE|PERMUTE|TRANSPOSE/)) continue;
        expect(dataAt(node) % 64n, `node ${i} ${B.ggml_op_desc(node)}`).toBe(0n);
        placed++;
      }
      expect(placed).toBeGreaterThan(5);
    } finally {
      g.dispose();
      store.dispose();
    }
  });
});
