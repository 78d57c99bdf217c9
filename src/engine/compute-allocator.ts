import { ReclmError } from "../errors.ts";
import type { Engine } from "./engine.ts";
import type { Ptr } from "./ffi/ggml.ts";
import { NativeResource } from "./native-resource.ts";

/**
 * One ggml compute buffer that several graphs take turns in (see `CompileOptions.allocator`). Each graph is placed
 * once, planned on its own (ggml_gallocr_reserve: the graphs may differ in shape and topology) into the same buffer;
 * when a placement needs a bigger buffer, ggml moves it and every graph placed before becomes stale. dispose() after
 * every graph using it.
 */
export class ComputeAllocator extends NativeResource {
  /** @internal */
  readonly gallocr: Ptr;
  /** @internal the graph whose values are in the buffer now (an identity only: graph.ts imports this file) */
  current: object | null = null;
  /** @internal bumped whenever the buffer moves (grows) */
  generation = 0;
  private placed = 0;

  private readonly hostBuffers = new Map<number, Float32Array>();

  constructor(private readonly engine: Engine) {
    super();
    engine.assertAlive();
    const B = engine.ggml.base;
    this.gallocr = B.ggml_gallocr_new(engine.bufferType);
    if (!this.gallocr) throw new ReclmError("RECLM_ERR_ENGINE", "ggml_gallocr_new failed (out of memory?)");
  }

  /**
   * @internal One host staging array per slot, shared by the graphs taking turns here and grown to the longest asked
   * for (a shorter request gets a view of its start): dropout masks of the same encoder reach 10M values each, graphs
   * of packed batches differ in length, and every graph refills its masks before it runs (keepDropoutMasks refuses to
   * run a graph another one displaced). Not kept across runs by the caller: a later, longer request replaces it.
   */
  hostBuffer(slot: number, length: number): Float32Array {
    let b = this.hostBuffers.get(slot);
    if (!b || b.length < length) this.hostBuffers.set(slot, (b = new Float32Array(length)));
    return b.length === length ? b : b.subarray(0, length);
  }

  /** Bytes of the buffer now. */
  get bytes(): number {
    return Number(this.engine.ggml.base.ggml_gallocr_get_buffer_size(this.gallocr, 0));
  }

  /** @internal plans `gf` on its own and places it; returns the generation the placement belongs to. */
  place(graph: object, gf: Ptr): number {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "compute allocator was disposed");
    const B = this.engine.ggml.base;
    const before = this.bytes;
    // An explicit reserve: alloc_graph alone would reuse the previous graph's plan when the node counts match.
    if (!B.ggml_gallocr_reserve(this.gallocr, gf) || !B.ggml_gallocr_alloc_graph(this.gallocr, gf)) {
      throw new ReclmError("RECLM_ERR_ENGINE", "could not allocate the compute buffer");
    }
    if (this.placed > 0 && this.bytes !== before) this.generation++;
    this.placed++;
    this.current = graph;
    return this.generation;
  }

  protected free(): void {
    this.current = null;
    this.hostBuffers.clear();
    this.engine.ggml.base.ggml_gallocr_free(this.gallocr);
  }
}
