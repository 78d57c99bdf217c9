import type { Rng } from "../rng.ts";

/**
 * Fills `out` with an inverted-dropout mask: element i is 0 when the i-th draw u of `rng` is < p, else 1/(1-p).
 * Exactly the stream and masks of `rng.next() >= p ? keep : 0` per element (xoshiro128** inlined on a copy of the
 * state, u·2³² compared as an integer: both exact in doubles), about 10x faster; `rng` ends in the same state.
 */
export function fillDropoutMask(rng: Rng, out: Float32Array, p: number): void {
  let [s0, s1, s2, s3] = rng.getState();
  const keep = 1 / (1 - p);
  const threshold = p * 4294967296;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const x = Math.imul(s1, 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    out[i] = r >= threshold ? keep : 0;
  }
  rng.setState([s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0]);
}
