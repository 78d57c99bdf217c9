/**
 * The papers' numbers reclm's benchmarks are measured against (../shared/research/anchors.md §1.4, §2), in one place:
 * full ranking, test split, history masked. A number is only comparable on the same protocol, which each entry names.
 */
export interface PaperTarget {
  /** Data protocol the number was measured under (reclm's protocol name). */
  protocol: string;
  source: string;
  metrics: Readonly<Record<string, number>>;
}

const LLAMAREC_T1 = "LlamaRec Table 1 (overall, full ranking)";
const LRUREC_T3 = "LRURec Table 3 (within 2% passes)";

/** model -> dataset -> target. */
export const PAPER_TARGETS: Readonly<Record<string, Readonly<Record<string, PaperTarget>>>> = {
  lrurec: {
    "ml-latest-small": { protocol: "llamarec", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0468, "Recall@5": 0.0705, "NDCG@10": 0.0705, "Recall@10": 0.1426 } },
    beauty: { protocol: "llamarec-preprocessed", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0435, "Recall@5": 0.0614, "NDCG@10": 0.0533, "Recall@10": 0.0916 } },
    games: { protocol: "llamarec-preprocessed", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.064, "Recall@5": 0.0966, "NDCG@10": 0.08, "Recall@10": 0.1463 } },
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.1930, "Recall@10": 0.3264 } },
  },
  sasrec: {
    "ml-latest-small": { protocol: "llamarec", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0409, "Recall@5": 0.0641, "NDCG@10": 0.0522, "Recall@10": 0.0993 } },
    beauty: { protocol: "llamarec-preprocessed", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0397, "Recall@5": 0.0582, "NDCG@10": 0.0481, "Recall@10": 0.0844 } },
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.1902, "Recall@10": 0.3181 } },
  },
  narm: {
    "ml-latest-small": { protocol: "llamarec", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0359, "Recall@5": 0.0544, "NDCG@10": 0.0441, "Recall@10": 0.0801 } },
  },
  bert4rec: {
    "ml-latest-small": { protocol: "llamarec", source: LLAMAREC_T1, metrics: { "NDCG@5": 0.0232, "Recall@5": 0.0368, "NDCG@10": 0.0366, "Recall@10": 0.0785 } },
    "ml-1m": { protocol: "lrurec-preprocessed", source: LRUREC_T3, metrics: { "NDCG@10": 0.16377, "Recall@10": 0.30894 } },
  },
};

export function paperTarget(model: string, dataset: string): PaperTarget | undefined {
  return PAPER_TARGETS[model]?.[dataset];
}
