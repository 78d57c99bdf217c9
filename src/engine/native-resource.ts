/**
 * Something that holds native memory (ggml contexts and buffers): freed once by `dispose()`, never by the garbage
 * collector. `disposed` says whether it was; `using x = …` disposes it at the end of the scope.
 */
export abstract class NativeResource {
  private freed = false;

  /** True once `dispose()` has freed its native memory. */
  get disposed(): boolean {
    return this.freed;
  }

  /** Frees the native memory; a second call does nothing. */
  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.free();
  }

  /** Lets `using` free it at the end of a scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Frees what this object holds; called once, by the first `dispose()`. */
  protected abstract free(): void;
}
