/**
 * LlamaRec's Tables 1 (overall, full ranking) and 3 (valid-retrieval subset), as printed in the paper
 * (arXiv 2311.02089; ../shared/research/anchors.md §1.4). Dataset names are reclm's: the paper's "ML-100k" is
 * ml-latest-small. Columns: NARM, BERT4Rec, SASRec, LRURec, LlamaRec.
 */
export const LLAMAREC_METHODS = ["narm", "bert4rec", "sasrec", "lrurec", "llamarec"] as const;
export type LlamaRecMethod = (typeof LLAMAREC_METHODS)[number];
export const LLAMAREC_METRICS = ["MRR@5", "NDCG@5", "Recall@5", "MRR@10", "NDCG@10", "Recall@10"] as const;
export type LlamaRecMetric = (typeof LLAMAREC_METRICS)[number];
export const LLAMAREC_DATASETS = ["ml-latest-small", "beauty", "games"] as const;
export type LlamaRecDataset = (typeof LLAMAREC_DATASETS)[number];

/** metric -> values in LLAMAREC_METHODS order. */
type Table = Readonly<Record<LlamaRecDataset, Readonly<Record<LlamaRecMetric, readonly number[]>>>>;

export const LLAMAREC_TABLE1: Table = {
  "ml-latest-small": {
    "MRR@5": [0.0298, 0.0188, 0.0333, 0.039, 0.044],
    "NDCG@5": [0.0359, 0.0232, 0.0409, 0.0468, 0.0543],
    "Recall@5": [0.0544, 0.0368, 0.0641, 0.0705, 0.0852],
    "MRR@10": [0.0332, 0.0244, 0.0378, 0.0491, 0.0529],
    "NDCG@10": [0.0441, 0.0366, 0.0522, 0.0705, 0.0759],
    "Recall@10": [0.0801, 0.0785, 0.0993, 0.1426, 0.1524],
  },
  beauty: {
    "MRR@5": [0.0289, 0.0246, 0.0336, 0.0376, 0.0385],
    "NDCG@5": [0.0342, 0.0298, 0.0397, 0.0435, 0.045],
    "Recall@5": [0.0503, 0.0457, 0.0582, 0.0614, 0.0648],
    "MRR@10": [0.0321, 0.0276, 0.0371, 0.0417, 0.0428],
    "NDCG@10": [0.042, 0.0372, 0.0481, 0.0533, 0.0554],
    "Recall@10": [0.0746, 0.0686, 0.0844, 0.0916, 0.0971],
  },
  games: {
    "MRR@5": [0.0479, 0.0422, 0.0515, 0.0533, 0.06],
    "NDCG@5": [0.0576, 0.0512, 0.0617, 0.064, 0.0714],
    "Recall@5": [0.0874, 0.0788, 0.093, 0.0966, 0.1061],
    "MRR@10": [0.0541, 0.0478, 0.0583, 0.0598, 0.0671],
    "NDCG@10": [0.0729, 0.0649, 0.0783, 0.08, 0.0887],
    "Recall@10": [0.1351, 0.1214, 0.1446, 0.1463, 0.1599],
  },
};

export const LLAMAREC_TABLE3: Table = {
  "ml-latest-small": {
    "MRR@5": [0.1369, 0.0887, 0.1449, 0.1965, 0.2184],
    "NDCG@5": [0.1607, 0.1032, 0.1793, 0.2356, 0.2693],
    "Recall@5": [0.2329, 0.1477, 0.2833, 0.3544, 0.4227],
    "MRR@10": [0.1485, 0.1054, 0.1596, 0.2384, 0.2623],
    "NDCG@10": [0.1886, 0.1435, 0.2147, 0.3367, 0.3766],
    "Recall@10": [0.3188, 0.272, 0.3927, 0.6654, 0.756],
  },
  beauty: {
    "MRR@5": [0.1961, 0.1587, 0.2296, 0.2944, 0.3016],
    "NDCG@5": [0.2284, 0.1901, 0.2679, 0.3403, 0.3524],
    "Recall@5": [0.3263, 0.2861, 0.3843, 0.4801, 0.5071],
    "MRR@10": [0.2128, 0.1743, 0.2491, 0.3259, 0.335],
    "NDCG@10": [0.2689, 0.2281, 0.3152, 0.4168, 0.4337],
    "Recall@10": [0.4517, 0.4043, 0.5312, 0.717, 0.76],
  },
  games: {
    "MRR@5": [0.2039, 0.1765, 0.2177, 0.2504, 0.2825],
    "NDCG@5": [0.2424, 0.2109, 0.2571, 0.3009, 0.336],
    "Recall@5": [0.36, 0.316, 0.3776, 0.4544, 0.4995],
    "MRR@10": [0.2248, 0.1947, 0.2408, 0.2811, 0.3158],
    "NDCG@10": [0.2931, 0.2551, 0.3134, 0.376, 0.4173],
    "Recall@10": [0.5168, 0.453, 0.5521, 0.6879, 0.7522],
  },
};

export function llamarecCell(table: Table, dataset: LlamaRecDataset, method: LlamaRecMethod, metric: LlamaRecMetric): number {
  return table[dataset][metric][LLAMAREC_METHODS.indexOf(method)];
}
