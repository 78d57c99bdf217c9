/**
 * Micro-batching: concurrent requests that need the retriever share one `scoreAll` forward.
 *
 * A request's history joins a bounded queue. The first history to arrive at an idle model waits for company: the
 * other requests read in the same turn of the event loop, or `windowMs` when set (less once `maxBatch` are queued); then up to `maxBatch` histories go through one forward. While a
 * forward runs, new arrivals queue (a CPU forward holds the event loop, so they are read right after it), and the
 * next forward takes everything queued by then: under load batches grow by themselves, and an idle server adds no
 * wait (or at most `windowMs`) to a request. One forward at a time: a
 * model's compiled graph and its input buffers are not re-entrant. A full queue refuses at once (503 +
 * Retry-After) instead of growing memory; a request whose deadline passes while queued leaves the queue and is never
 * computed.
 */
import type { SequentialRecommender } from "../contracts.ts";
import { ReclmError } from "../errors.ts";

/**
 * A CPU forward of a trained retriever costs nearly as much per history in a batch as alone (LRURec on
 * ml-latest-small, 1 thread, quiet machine, whole 200-item histories: 4.5 ms for 1, 8 ms for 2, 16 ms for 4, 35 ms
 * for 8; a batch of 3 runs the graph of 4; 30-item histories run a 32-position window: 1.8 ms for 4, 3.3 ms for 8,
 * bench/engine/query-profile.ts), so batches beyond a few buy little throughput and cost every request in them
 * latency: 4 keeps a full batch of whole histories under the 20 ms target.
 */
export const DEFAULT_MAX_BATCH = 4;

export interface BatcherOptions {
  /** Histories per forward (a trained model compiles graphs for powers of two up to its evalBatchSize). Default 4. */
  maxBatch?: number;
  /** Histories waiting (not counting the forward in progress) before new ones are refused. Default 256. */
  maxQueue?: number;
  /** How long the first history at an idle model waits for others; 0 (the default): the requests read in the same turn of the event loop. */
  windowMs?: number;
  /** How long forwards may run back to back before the event loop reads sockets again. Default 5 ms. */
  sliceMs?: number;
}

export interface ScoredRow {
  /** The history's N + 1 scores; the caller may write into it (each request owns its row). */
  row: Float32Array;
  /** Time from joining the queue to the start of its forward. */
  queueMs: number;
  /** The forward's time (shared by everyone in the batch). */
  forwardMs: number;
  batchSize: number;
}

/** What one forward did, for the metrics. */
export interface BatchObservation {
  size: number;
  forwardMs: number;
}

interface Pending {
  history: Int32Array;
  enqueuedAt: number;
  resolve: (r: ScoredRow) => void;
  reject: (e: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class ScoreBatcher {
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly windowMs: number;
  readonly sliceMs: number;
  private readonly queue: Pending[] = [];
  private timer: { cancel: () => void } | undefined;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly model: SequentialRecommender,
    options: BatcherOptions = {},
    private readonly observe?: (b: BatchObservation) => void,
  ) {
    this.maxBatch = positiveInt(options.maxBatch ?? DEFAULT_MAX_BATCH, "maxBatch");
    this.maxQueue = positiveInt(options.maxQueue ?? 256, "maxQueue");
    this.windowMs = options.windowMs ?? 0;
    this.sliceMs = options.sliceMs ?? 5;
    if (!(this.sliceMs >= 0 && Number.isFinite(this.sliceMs))) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `sliceMs must be a finite number >= 0, got ${this.sliceMs}`, { field: "sliceMs" });
    if (!(this.windowMs >= 0 && Number.isFinite(this.windowMs))) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `windowMs must be a finite number >= 0, got ${this.windowMs}`, { field: "windowMs" });
  }

  /** Histories waiting for a forward. */
  get depth(): number {
    return this.queue.length;
  }

  /** Scores one history in the next forward. Rejects with RECLM_ERR_OVERLOADED when the queue is full. */
  score(history: Int32Array, signal?: AbortSignal): Promise<ScoredRow> {
    if (this.closed) return Promise.reject(new ReclmError("RECLM_ERR_NOT_READY", "the server is shutting down"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new ReclmError("RECLM_ERR_OVERLOADED", `the scoring queue is full (${this.maxQueue} requests waiting); retry shortly`));
    }
    return new Promise<ScoredRow>((resolve, reject) => {
      const p: Pending = { history, enqueuedAt: performance.now(), resolve, reject, signal };
      if (signal) {
        p.onAbort = () => {
          const at = this.queue.indexOf(p);
          if (at < 0) return; // already in a forward: its answer arrives and is discarded by the caller
          this.queue.splice(at, 1);
          reject(signal.reason);
          this.notifyIdle();
        };
        signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.queue.push(p);
      this.schedule();
    });
  }

  /** Refuses new work; resolves once everything queued has been scored. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.maxBatch) {
      // A full batch runs at once, but after the event loop's I/O phase (setImmediate, never a microtask): a CPU
      // forward holds the loop, and forwards chained without a break would leave new requests unread in their
      // sockets, where the queue bound cannot see them, answers unsent, and overload waiting instead of shed
      // (run() itself chains forwards only within sliceMs).
      this.timer?.cancel();
      const h = setImmediate(() => void this.run());
      this.timer = { cancel: () => clearImmediate(h) };
    } else if (!this.timer) {
      // windowMs 0: run after this turn of the event loop, with every request its I/O phase has read (setImmediate);
      // a timer would add a millisecond (Node's shortest) to every request at an idle server.
      if (this.windowMs === 0) {
        const h = setImmediate(() => void this.run());
        this.timer = { cancel: () => clearImmediate(h) };
      } else {
        const h = setTimeout(() => void this.run(), this.windowMs);
        this.timer = { cancel: () => clearTimeout(h) };
      }
    }
  }

  /**
   * Forwards until the queue is empty or this turn of the event loop has spent `sliceMs`, then yields to its I/O
   * phase. A fast model (cooc: a fraction of a millisecond per batch) drains its whole queue in one turn; a slow one
   * (LRURec: ~15 ms) yields after every forward, so requests are read, shed or answered in between.
   */
  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const turn = performance.now();
    try {
      do await this.forward(this.queue.splice(0, this.maxBatch));
      while (this.queue.length > 0 && performance.now() - turn < this.sliceMs);
    } finally {
      this.running = false;
      this.schedule();
      this.notifyIdle();
    }
  }

  private async forward(batch: Pending[]): Promise<void> {
    const start = performance.now();
    for (const p of batch) if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
    try {
      const scores = await this.model.scoreAll(batch.map((p) => p.history));
      const width = this.model.nItems + 1;
      if (scores.length !== batch.length * width) {
        throw new ReclmError("RECLM_ERR_SHAPE", `model "${this.model.name}" returned ${scores.length} scores for ${batch.length} histories; expected ${batch.length} x ${width}`, { field: "scoreAll" });
      }
      const forwardMs = performance.now() - start;
      this.observe?.({ size: batch.length, forwardMs });
      batch.forEach((p, b) => p.resolve({ row: scores.subarray(b * width, (b + 1) * width), queueMs: start - p.enqueuedAt, forwardMs, batchSize: batch.length }));
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }

  private notifyIdle(): void {
    if (this.running || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function positiveInt(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `${field} must be a positive integer, got ${v}`, { field });
  return v;
}
