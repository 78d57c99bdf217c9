/**
 * The papers' numbers reclm's benchmarks are measured against (../shared/research/anchors.md §1.4, §2), in one place:
 * full ranking, test split, history masked. A number is only comparable on the same protocol, which each entry names.
 */
import { LLAMAREC_TABLE1, llamarecCell, type LlamaRecDataset, type LlamaRecMethod } from "./llamarec-tables.ts";

export interface PaperTarget {
  /** Data protocol the number was measured under (reclm's protocol name). */
  protocol: string;
  source: string;
  metrics: Readonly<Record<string, number>>;
}

const LLAMAREC_T1 = "LlamaRec Table 1 (overall, full ranking)";

/** A model's LlamaRec Table 1 cell (the @5 and @10 NDCG/Recall reclm compares) for one dataset. */
function table1(method: LlamaRecMethod, dataset: LlamaRecDataset, protocol: string): PaperTarget {
  const metrics: Record<string, number> = {};
  for (const m of ["NDCG@5", "Recall@5", "NDCG@10", "Recall@10"] as const) metrics[m] = llamarecCell(LLAMAREC_TABLE1, dataset, method, m);
  return { protocol, source: LLAMAREC_T1, metrics };
}

const LRUREC_T3 = "LRURec Table 3 (within 2% passes)";

/** model -> dataset -> target. */
export const PAPER_TARGETS: Readonly<Record<string, Readonly<Record<string, PaperTarget>>>> = {
  lrurec: {
    "ml-latest-small": table1("lrurec", "ml-latest-small", "llamarec"),
    beauty: table1("lrurec", "beauty", "llamarec-preprocessed"),
    games: table1("lrurec", "games", "llamarec-preprocessed"),
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.1930, "Recall@10": 0.3264 } },
  },
  sasrec: {
    "ml-latest-small": table1("sasrec", "ml-latest-small", "llamarec"),
    beauty: table1("sasrec", "beauty", "llamarec-preprocessed"),
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.1902, "Recall@10": 0.3181 } },
  },
  narm: {
    "ml-latest-small": table1("narm", "ml-latest-small", "llamarec"),
  },
  bert4rec: {
    "ml-latest-small": table1("bert4rec", "ml-latest-small", "llamarec"),
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.16377, "Recall@10": 0.30894 } },
  },
};

export function paperTarget(model: string, dataset: string): PaperTarget | undefined {
  return PAPER_TARGETS[model]?.[dataset];
}
