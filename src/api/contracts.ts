/**
 * The contracts every layer speaks: a `SequenceDataset` (catalog + leave-one-out split, dense item ids 1..N, 0 =
 * padding); a `SequentialRecommender` (scores every item for a batch of histories: what evaluation and retrieval
 * read); a `Ranker` (re-orders a short candidate list: an LLM ranker); a `Recommender` (history in, ranked items out:
 * what a caller or the service asks); and the progress/abort options long work takes.
 * @module contracts
 */
export type {
  Catalog,
  EvalSplit,
  ItemId,
  ItemInfo,
  LongWorkOptions,
  Progress,
  Ranker,
  Recommendation,
  Recommender,
  RecommendOptions,
  SequenceDataset,
  SequentialRecommender,
  UntitledItems,
} from "../contracts.ts";
