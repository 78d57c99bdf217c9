/**
 * The `tokenizer.ggml.*` metadata that makes llama.cpp tokenize with a reclm BPE vocabulary exactly as ByteLevelBpe
 * does: model "gpt2" (byte-level BPE), pre "trillion" (GPT-2's pre-tokenizer without clean_spaces; see bpe.ts), the
 * tokens, their types (control tokens are type 3, so llama.cpp's tokenize(text, false) encodes their text as plain
 * text and detokenize(tokens, false) renders them as ""), the merges in rank order, BOS/EOS/PAD ids.
 *
 * add_bos_token follows the vocabulary's addBos (trainByteLevelBpe: true), so llama.cpp's tokenize(text, true) puts
 * BOS first as a pretrained reclm model saw it; add_eos_token is always false.
 */
import { gguf, type GgufValue } from "../gguf-writer.ts";
import { checkBpeVocab, type BpeVocab } from "./bpe.ts";

export function bpeGgufMetadata(vocab: BpeVocab): Record<string, GgufValue> {
  checkBpeVocab(vocab);
  return {
    "tokenizer.ggml.model": gguf.str("gpt2"),
    "tokenizer.ggml.pre": gguf.str(vocab.pre),
    "tokenizer.ggml.tokens": gguf.strings(vocab.tokens),
    "tokenizer.ggml.token_type": gguf.i32s(vocab.tokenTypes),
    "tokenizer.ggml.merges": gguf.strings(vocab.merges),
    "tokenizer.ggml.bos_token_id": gguf.u32(vocab.bos),
    "tokenizer.ggml.eos_token_id": gguf.u32(vocab.eos),
    ...(vocab.pad === undefined ? {} : { "tokenizer.ggml.padding_token_id": gguf.u32(vocab.pad) }),
    "tokenizer.ggml.add_bos_token": gguf.bool(vocab.addBos),
    "tokenizer.ggml.add_eos_token": gguf.bool(false),
  };
}
