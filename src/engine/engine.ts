import { cpus } from "node:os";
import { ReclmError } from "../errors.ts";
import { alignedBufferType, loadGgml, type Ggml, type Ptr } from "./ffi/ggml.ts";
import { NativeResource } from "./native-resource.ts";

export interface EngineOptions {
  /**
   * CPU threads for ggml compute. Default: the number of cores (os.cpus().length) or $RECLM_THREADS.
   * Set it explicitly: ggml's own default (4) spins in barriers on a 2-core machine.
   */
  threads?: number;
  /** Only "cpu" today; GPU backends would be selected in ffi/library.ts. */
  backend?: "cpu";
}

/** One ggml backend (CPU, n threads). Owns nothing else; parameter stores and graphs hold a reference to it. */
export class Engine extends NativeResource {
  /** @internal */ readonly ggml: Ggml;
  /** @internal */ readonly backend: Ptr;
  /** @internal The buffer type of every parameter, optimizer and compute buffer: the backend's, 64-byte aligned (`alignedBufferType`). */
  readonly bufferType: Ptr;
  readonly threads: number;

  private constructor(ggml: Ggml, backend: Ptr, threads: number) {
    super();
    this.ggml = ggml;
    this.backend = backend;
    this.bufferType = alignedBufferType(ggml, ggml.base.ggml_backend_get_default_buffer_type(backend));
    this.threads = threads;
  }

  static create(options: EngineOptions = {}): Engine {
    const envThreads = process.env.RECLM_THREADS ? Number(process.env.RECLM_THREADS) : undefined;
    const threads = options.threads ?? envThreads ?? cpus().length;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `engine threads must be a positive integer, got ${threads}`, {
        field: "threads",
      });
    }
    const ggml = loadGgml();
    const backend = ggml.cpu.ggml_backend_cpu_init();
    if (!backend) throw new ReclmError("RECLM_ERR_ENGINE", "ggml_backend_cpu_init failed");
    ggml.cpu.ggml_backend_cpu_set_n_threads(backend, threads);
    return new Engine(ggml, backend, threads);
  }

  /** The loaded library files, e.g. for a benchmark report. */
  get libraries(): { base: string; cpu: string } {
    return this.ggml.files;
  }

  /** @internal */
  assertAlive(): void {
    if (this.disposed) throw new ReclmError("RECLM_ERR_DISPOSED", "engine was disposed");
  }

  protected free(): void {
    this.ggml.base.ggml_backend_free(this.backend);
  }
}
