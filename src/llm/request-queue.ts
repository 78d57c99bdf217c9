/**
 * A bounded FIFO of jobs over a fixed set of resources (a context's sequences, an embedding context): a job takes the
 * resources it needs when they are free, in submission order; at most `maxQueued` jobs wait to run, and submitters
 * beyond that wait for room before their job is even queued, so a producer of many prompts holds a bounded amount of
 * pending work. A job that fails rejects its own result only. `close()` rejects everything not yet running with
 * RECLM_ERR_DISPOSED and waits for the running jobs, so the owner can then free the resources deterministically.
 */
import { ReclmError } from "../errors.ts";

interface Pending<R> {
  need: number;
  start: (resources: R[]) => void;
  reject: (e: unknown) => void;
  /** Resolves the submitter's `enqueue` once the job is in the queue. */
  accepted: () => void;
}

export class RequestQueue<R> {
  /** Resources in all: no job may need more. */
  readonly capacity: number;
  private readonly free: R[];
  private readonly queue: Pending<R>[] = [];
  /** Jobs of submitters waiting for room in the full queue, in order. */
  private readonly blocked: Pending<R>[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /**
   * `owner` names what the queue serves in errors ("scorer"); `reset` puts a resource back in a clean state after a
   * job failed on it (a sequence's KV cache may be half-written).
   */
  constructor(
    resources: readonly R[],
    readonly maxQueued: number,
    private readonly owner: string,
    private readonly reset: (resource: R) => Promise<void> = async () => {},
  ) {
    if (resources.length === 0) throw new ReclmError("RECLM_ERR_INTERNAL", "a request queue needs at least one resource");
    if (!Number.isInteger(maxQueued) || maxQueued < 1) throw new ReclmError("RECLM_ERR_BAD_CONFIG", `maxQueued must be a positive integer, got ${maxQueued}`, { field: "maxQueued" });
    this.free = [...resources];
    this.capacity = resources.length;
  }

  /** Jobs accepted and waiting for resources. */
  get queued(): number {
    return this.queue.length;
  }

  /** Submitters waiting for room in the full queue. */
  get waiting(): number {
    return this.blocked.length;
  }

  /** Jobs holding resources now. */
  get running(): number {
    return this.inFlight.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Waits for room in the queue, then queues the job and returns its result (wrapped, so that awaiting `enqueue` is
   * the back-pressure and awaiting `result` the answer). The result promise is already observed: a failing job never
   * becomes an unhandled rejection while its producer is still queueing others.
   */
  async enqueue<T>(need: number, job: (resources: R[]) => Promise<T>): Promise<{ result: Promise<T> }> {
    if (!Number.isInteger(need) || need < 1 || need > this.capacity) {
      throw new ReclmError("RECLM_ERR_BAD_CONFIG", `a request needs ${need} sequences; this ${this.owner} has ${this.capacity}`, { field: "parallel" });
    }
    if (this.closed) throw this.disposedError();
    let accepted!: () => void;
    let refused!: (e: unknown) => void;
    const admission = new Promise<void>((resolve, reject) => {
      accepted = resolve;
      refused = reject;
    });
    const result = new Promise<T>((resolve, reject) => {
      const pending: Pending<R> = {
        need,
        accepted,
        reject: (e) => {
          refused(e);
          reject(e);
        },
        start: (resources) => {
          const done = Promise.resolve()
            .then(() => job(resources))
            .then(
              (value) => {
                this.release(resources);
                resolve(value);
              },
              async (e: unknown) => {
                await Promise.allSettled(resources.map((r) => this.reset(r)));
                this.release(resources);
                reject(e);
              },
            );
          this.inFlight.add(done);
          void done.finally(() => this.inFlight.delete(done));
        },
      };
      if (this.queue.length < this.maxQueued && this.blocked.length === 0) {
        this.queue.push(pending);
        accepted();
      } else this.blocked.push(pending);
    });
    result.catch(() => {});
    this.pump();
    await admission;
    return { result };
  }

  /** Queues the job (waiting for room) and returns its result. */
  async run<T>(need: number, job: (resources: R[]) => Promise<T>): Promise<T> {
    return (await this.enqueue(need, job)).result;
  }

  /** Rejects every queued and blocked request with RECLM_ERR_DISPOSED and waits for the running jobs to settle. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of [...this.queue.splice(0), ...this.blocked.splice(0)]) p.reject(new ReclmError("RECLM_ERR_DISPOSED", `the ${this.owner} was disposed before this request ran`));
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private disposedError(): ReclmError {
    return new ReclmError("RECLM_ERR_DISPOSED", `this ${this.owner} was disposed`);
  }

  private release(resources: R[]): void {
    this.free.push(...resources);
    this.pump();
  }

  /**
   * Starts queued jobs in order while the head's resources are free (no overtaking, so a job that needs many
   * sequences is not starved), and moves blocked submitters into the room that frees.
   */
  private pump(): void {
    while (!this.closed) {
      if (this.queue.length > 0 && this.queue[0].need <= this.free.length) {
        const next = this.queue.shift()!;
        next.start(this.free.splice(0, next.need));
      } else if (this.blocked.length > 0 && this.queue.length < this.maxQueued) {
        const next = this.blocked.shift()!;
        this.queue.push(next);
        next.accepted();
      } else return;
    }
  }
}
