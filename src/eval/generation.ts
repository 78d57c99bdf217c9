/**
 * Metrics over generated text: LLaRA's substring-matched HR@1 (anchors.md §3.3) and GenRec's exact-match HR/NDCG
 * over beams (anchors.md §5). Both are counted exactly as the papers' code counts them, quirks included.
 */
import { ReclmError } from "../errors.ts";
import { validateKs, type Metrics } from "./metrics.ts";

export interface LlaraHitRatio {
  protocol: "llara-1+19";
  n: number;
  valid: number;
  correct: number;
  /** HR@1 = correct / valid (not / all), and ValidRatio = valid / all. */
  metrics: { "HR@1": number; ValidRatio: number };
  /** Per sample: the candidate titles found in the answer (normalised), whether valid, whether correct. */
  perSample: { matched: string[]; valid: boolean; correct: boolean }[];
}

/** LLaRA's normalisation: lower-case, then strip surrounding whitespace. */
function normalize(s: string): string {
  return s.trim().toLowerCase().trim();
}

/**
 * LLaRA `calculate_hr1`: keep the generation's first line; a candidate "appears" when its normalised title is a
 * substring of the normalised answer; a sample is valid iff exactly one candidate appears, and correct iff that one
 * is the target. HR@1 divides by the valid count (0 when none is valid).
 */
export function llaraHitRatio(
  generations: readonly string[],
  candidateTitles: readonly (readonly string[])[],
  targetTitles: readonly string[],
): LlaraHitRatio {
  const n = generations.length;
  if (candidateTitles.length !== n || targetTitles.length !== n) {
    throw new ReclmError(
      "RECLM_ERR_SHAPE",
      `${n} generations, ${candidateTitles.length} candidate lists and ${targetTitles.length} targets must align`,
      { field: "generations" },
    );
  }
  let valid = 0;
  let correct = 0;
  const perSample: LlaraHitRatio["perSample"] = [];
  for (let i = 0; i < n; i++) {
    const answer = normalize(generations[i].split("\n")[0]);
    const target = normalize(targetTitles[i]);
    const matched = candidateTitles[i].map(normalize).filter((title) => answer.includes(title));
    const isValid = matched.length === 1;
    const isCorrect = isValid && matched[0] === target;
    if (isValid) valid++;
    if (isCorrect) correct++;
    perSample.push({ matched, valid: isValid, correct: isCorrect });
  }
  return {
    protocol: "llara-1+19",
    n,
    valid,
    correct,
    metrics: { "HR@1": valid ? correct / valid : 0, ValidRatio: n ? valid / n : 0 },
    perSample,
  };
}

export interface GenerationExactMatch {
  protocol: "generation-exact-match";
  n: number;
  ks: number[];
  /** Per sample: 0-based position of the first beam equal to the label, -1 when none is. */
  positions: Int32Array;
  /** "HR@k" and "NDCG@k" (NDCG = 1 / log2(pos + 2), 0-based pos, as GenRec's evaluation.py). */
  metrics: Metrics;
}

/**
 * GenRec's evaluation: beams per sample in rank order; a hit at k when the label equals (after trimming surrounding
 * whitespace, which decoding leaves) one of the first k beams. No grounding to the catalogue: a near-miss is a miss.
 */
export function generationExactMatch(
  beams: readonly (readonly string[])[],
  labels: readonly string[],
  ks: readonly number[],
): GenerationExactMatch {
  validateKs(ks);
  const n = beams.length;
  if (labels.length !== n) {
    throw new ReclmError("RECLM_ERR_SHAPE", `${n} beam lists for ${labels.length} labels`, { field: "labels" });
  }
  const positions = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = labels[i].trim();
    positions[i] = beams[i].findIndex((b) => b.trim() === label);
  }
  const metrics: Metrics = {};
  for (const k of ks) {
    let hr = 0;
    let ndcg = 0;
    for (const pos of positions) {
      if (pos >= 0 && pos < k) {
        hr += 1;
        ndcg += 1 / Math.log2(pos + 2);
      }
    }
    metrics[`HR@${k}`] = n ? hr / n : 0;
    metrics[`NDCG@${k}`] = n ? ndcg / n : 0;
  }
  return { protocol: "generation-exact-match", n, ks: [...ks], positions, metrics };
}
