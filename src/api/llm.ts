/**
 * The LLM runtime: llama.cpp (through node-llama-cpp) for inference — next-token and continuation scoring with LoRA
 * adapters by file, greedy and beam generation (free or constrained to a token trie), embeddings, many requests
 * sharing one context — and reclm's own llama-family decoder on the engine for training: LoRA fine-tuning, GGUF and
 * adapter files, a byte-level BPE tokenizer, and a small language model pretrained per dataset. Every entry point
 * takes a thread count; nothing here names a method (those are in `methods`).
 *
 * ```ts
 * import { loadLlamaCppModel, NextTokenScorer } from "reclm";
 * const model = await loadLlamaCppModel("model.gguf", { threads: 2 });
 * await using scorer = await NextTokenScorer.create(model, { contextSize: 512 });
 * const logProbs = await scorer.scorePrompt(promptTokens, candidateTokens);
 * ```
 * @module llm
 */
export {
  chatPromptTokens,
  contextThreads,
  cpuLlama,
  endOfTurnToken,
  hasChatTemplate,
  llamaCppNextTokenProbabilities,
  llamaRuntime,
  loadLlamaCppModel,
  modelFile,
  readGgufHeader,
  resolveThreads,
  vocabularySize,
} from "../llm/runtime.ts";
export type { GgufHeader, GgufTensor, LlmRuntimeOptions } from "../llm/runtime.ts";
export { hostOf, isModelUri, modelsDir, resolveLlmFile } from "../llm/model-source.ts";
export type { ResolveLlmOptions } from "../llm/model-source.ts";
export { NextTokenScorer } from "../llm/scorer.ts";
export type { NextTokenScorerOptions, TextPerplexity, TokenLogProbs } from "../llm/scorer.ts";
export { TextGenerator } from "../llm/generate.ts";
export type { FinishReason, GeneratedSequence, GenerateOptions, TextGeneratorOptions } from "../llm/generate.ts";
export { Embedder } from "../llm/embeddings.ts";
export type { EmbedderOptions, EmbedOptions, Pooling } from "../llm/embeddings.ts";
export { logProbOf, SequencePool } from "../llm/sequence-pool.ts";
export type { LlmContextOptions, LoraAdapterFile, NextTokenOutput, NextTokenRequest, PoolStats } from "../llm/sequence-pool.ts";
export { TokenTrie } from "../llm/token-trie.ts";
export type { TrieNode } from "../llm/token-trie.ts";
export { alpacaShortPrompt, encodeTruncatedLeft, llamaCppTokenizer, truncateToTokens } from "../llm/prompt.ts";
export type { EncodedPrompt, PromptTokenizer } from "../llm/prompt.ts";

// reclm's decoder on the engine (training, LoRA, injected vectors)
export {
  checkLlamaConfig,
  declareLlama,
  declareLlamaFromGguf,
  isLlamaArchitecture,
  LLAMA_OUT_PRODUCTS,
  LLAMA_PROJECTIONS,
  llamaConfigFromGguf,
  llamaDecode,
  llamaEmbed,
  llamaEmbedWithInjections,
  llamaHidden,
  llamaInjectionIndex,
  llamaLogits,
  llamaOutputRowsInputs,
  llamaRowsPayOff,
  llamaSegmentMask,
  llamaTensorShapes,
} from "../llm/llama.ts";
export type { DeclareLlamaFromGgufOptions, DeclareLlamaOptions, LlamaArchitecture, LlamaConfig, LlamaDecodeOptions, LlamaModel, LlamaOutputRows, LlamaParams, LlamaProjection, LoraOptions, LoraTarget, WeightInit, WeightSource } from "../llm/llama.ts";
export { checkLlmTrainConfig, heldOutLoss, LLM_TRAIN_DEFAULTS, trainLlm } from "../llm/train/trainer.ts";
export type { LlmTrainConfig, LlmTrainOptions, LlmTrainResult, TrainableDecoder } from "../llm/train/trainer.ts";
export { openDecoder } from "../llm/train/decoder.ts";
export type { OpenDecoder, OpenDecoderOptions } from "../llm/train/decoder.ts";
export { exampleArray, packStep } from "../llm/train/batches.ts";
export type { LmExample, LmExampleSource, MicroBatch, PackOptions } from "../llm/train/batches.ts";

// GGUF models and LoRA adapters
export { encodeGguf, f32ToF16, gguf, writeGguf } from "../llm/gguf-writer.ts";
export type { EncodeGgufOptions, GgufTensorData, GgufTensorType, GgufValue } from "../llm/gguf-writer.ts";
export { llamaFamilyGgufMetadata, writeLlamaFamilyGguf } from "../llm/gguf-model.ts";
export type { LlamaFamilyMetadataOptions, WeightTypeChoice } from "../llm/gguf-model.ts";
export { loadLoraAdapter, readLoraGguf, writeLoraGguf } from "../llm/lora-gguf.ts";
export type { LoraAdapter } from "../llm/lora-gguf.ts";
export { writeTinyLlamaGguf } from "../llm/tiny-llama.ts";
export type { TinyLlamaOptions } from "../llm/tiny-llama.ts";

// reclm's byte-level BPE tokenizer
export { bpeGgufMetadata, BPE_PRE_TOKENIZER, ByteLevelBpe, checkBpeVocab, preTokenize, trainByteLevelBpe } from "../llm/tokenizer/index.ts";
export type { BpeTrainOptions, BpeVocab } from "../llm/tokenizer/index.ts";

// reclm's own small language model of a dataset (pretrained on its item texts and histories)
export { LM_SIZES, pretrainLm, pretrainRecipe, resolvePretrainConfig } from "../llm/own-lm/pretrain.ts";
export type { LmRunConfig, LmShape, LmSize, PretrainConfig, PretrainOptions, PretrainReport } from "../llm/own-lm/pretrain.ts";
export { pretrainLmInChild } from "../llm/own-lm/pretrain-job.ts";
export type { PretrainJobInput } from "../llm/own-lm/pretrain-job.ts";
export { buildLmCorpus } from "../llm/own-lm/corpus.ts";
export type { LmCorpus, LmCorpusOptions } from "../llm/own-lm/corpus.ts";
export { ownLmDir, ownLmState } from "../llm/own-lm/cache.ts";
export type { OwnLmState } from "../llm/own-lm/cache.ts";
