import { describe, expect, it } from "vitest";
import { RequestQueue } from "../../src/llm/request-queue.ts";

/** A job that runs until released, recording when it started and on what. */
function gate() {
  let release!: (v?: unknown) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise((res, rej) => {
    release = res;
    fail = rej;
  });
  return { done, release, fail };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("RequestQueue (bounded FIFO over a context's sequences)", () => {
  it("queues at most maxQueued jobs; further submitters wait, and jobs start in order as resources free", async () => {
    const q = new RequestQueue(["s0"], 2, "scorer");
    const gates = Array.from({ length: 6 }, gate);
    const started: number[] = [];
    const accepted: boolean[] = [];
    const results = gates.map((g, i) =>
      q.enqueue(1, async ([s]) => {
        started.push(i);
        expect(s).toBe("s0");
        await g.done;
        return i;
      }).then(({ result }) => {
        accepted[i] = true;
        return result;
      }),
    );
    await tick();
    // one runs, two are queued, three submitters are held back before their job is even queued
    expect({ running: q.running, queued: q.queued, waiting: q.waiting }).toEqual({ running: 1, queued: 2, waiting: 3 });
    expect(accepted.filter(Boolean).length).toBe(3);
    expect(started).toEqual([0]);
    for (let i = 0; i < 6; i++) {
      gates[i].release();
      await tick();
      expect(q.queued + q.waiting).toBe(Math.max(0, 4 - i));
      expect(q.queued).toBeLessThanOrEqual(2);
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("a failing job rejects its own request only, and its resource is reset before reuse", async () => {
    const resets: string[] = [];
    const q = new RequestQueue(["a", "b"], 8, "scorer", async (r) => {
      resets.push(r);
    });
    const settled = await Promise.allSettled(
      [0, 1, 2, 3].map((i) =>
        q.run(1, async () => {
          if (i === 1) throw new Error("bad prompt 1");
          return i;
        }),
      ),
    );
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe("bad prompt 1");
    expect(resets).toEqual(["b"]);
  });

  it("a job that needs several resources waits for them at the head (no overtaking), and one too wide is refused", async () => {
    const q = new RequestQueue([0, 1, 2], 8, "generator");
    const g = gate();
    const order: string[] = [];
    const first = q.run(2, async () => {
      order.push("two");
      await g.done;
    });
    const wide = q.run(3, async (r) => {
      order.push(`three:${r.length}`);
    });
    const small = q.run(1, async () => {
      order.push("one");
    });
    await tick();
    expect(order).toEqual(["two"]); // "one" would fit beside "two", but the wide job is ahead of it
    g.release();
    await Promise.all([first, wide, small]);
    expect(order).toEqual(["two", "three:3", "one"]);
    await expect(q.run(4, async () => 0)).rejects.toMatchObject({ code: "RECLM_ERR_BAD_CONFIG" });
  });

  it("close() rejects queued and waiting requests with RECLM_ERR_DISPOSED and returns once the running job settled", async () => {
    const q = new RequestQueue(["s"], 1, "embedder");
    const g = gate();
    const running = q.run(1, async () => {
      await g.done;
      return "ran";
    });
    const queued = q.run(1, async () => "never");
    const waiting = q.run(1, async () => "never");
    await tick();
    expect({ running: q.running, queued: q.queued, waiting: q.waiting }).toEqual({ running: 1, queued: 1, waiting: 1 });
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    await expect(queued).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
    await expect(waiting).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
    await tick();
    expect(closed).toBe(false); // still waiting for the running job
    g.release();
    await closing;
    expect(await running).toBe("ran");
    await expect(q.run(1, async () => 0)).rejects.toMatchObject({ code: "RECLM_ERR_DISPOSED" });
  });
});
