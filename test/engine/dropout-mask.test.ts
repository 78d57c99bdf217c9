import { describe, expect, it } from "vitest";
import { fillDropoutMask } from "../../src/engine/dropout-mask.ts";
import { Rng } from "../../src/rng.ts";

describe("fillDropoutMask", () => {
  it("gives exactly the per-element rng.next() >= p mask and leaves the Rng in the same state", () => {
    for (const [seed, p, n] of [[1, 0.2, 10_001], [7, 0.5, 333], [123, 0.9, 5000], [5, 1e-9, 100]] as const) {
      const ref = new Rng(seed);
      const fast = new Rng(seed);
      ref.next(); // a stream already in use
      fast.next();
      const want = new Float32Array(n);
      const keep = 1 / (1 - p);
      for (let i = 0; i < n; i++) want[i] = ref.next() >= p ? keep : 0;
      const got = new Float32Array(n).fill(NaN);
      fillDropoutMask(fast, got, p);
      expect(got).toEqual(want);
      expect(fast.getState()).toEqual(ref.getState());
      expect(fast.nextU32()).toBe(ref.nextU32());
    }
  });
});
