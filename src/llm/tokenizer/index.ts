/** reclm's own byte-level BPE tokenizer: training, encoding/decoding, and its GGUF metadata for llama.cpp. */
export { BPE_PRE_TOKENIZER, ByteLevelBpe, checkBpeVocab, TOKEN_CONTROL, TOKEN_NORMAL, type BpeVocab } from "./bpe.ts";
export { DEFAULT_BOS, DEFAULT_EOS, DEFAULT_PAD, trainByteLevelBpe, type BpeTrainOptions } from "./bpe-train.ts";
export { bpeGgufMetadata } from "./gguf.ts";
export { preTokenize } from "./pretokenize.ts";
