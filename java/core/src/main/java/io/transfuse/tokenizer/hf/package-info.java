/**
 * Hugging Face {@code tokenizer.json} tokenizers in pure Java: {@link io.transfuse.tokenizer.hf.HfTokenizer}.
 *
 * <p>One small type per tokenizer.json component, in pipeline order: {@code AddedVocabulary}
 * (added and special tokens, cut out before normalisation), {@code Normalizer} (BertNormalizer,
 * Lowercase, NFD/NFC/NFKD/NFKC, StripAccents, Strip, Replace, Prepend, Sequence),
 * {@code PreTokenizer} (BertPreTokenizer, ByteLevel with the GPT-2 regex, Metaspace, Split,
 * Whitespace, WhitespaceSplit, Punctuation, Digits, CharDelimiterSplit, Sequence), the model
 * ({@code WordPiece}, {@code Bpe} with byte fallback / fuse_unk / ignore_merges, {@code Unigram} (Viterbi, byte
 * fallback), WordLevel),
 * {@code PostProcessor} (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
 * Sequence) and {@code Decoder} (WordPiece, ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
 * Strip, BPEDecoder, Sequence). {@code TokenizerJson} streams the large vocabulary and merges.
 *
 * <p>GGUF vocabularies become the same kind of tokenizer: {@link io.transfuse.tokenizer.hf.ByteLevelBpeGguf}
 * assembles byte-level BPE ones ({@code tokenizer.ggml.model = "gpt2"}) in memory and
 * {@link io.transfuse.tokenizer.hf.SentencePieceTokenizerJson} writes SentencePiece ones out as
 * tokenizer.json; {@link io.transfuse.tokenizer.GgufTokenizers} picks the loader for a file.
 *
 * <p>The semantics follow the Rust tokenizers library (version 0.21), which the tests run as
 * the reference on real files. Non-goals: BPE dropout, Unigram sampling, offsets, padding.
 */
package io.transfuse.tokenizer.hf;
