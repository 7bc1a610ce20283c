package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer, in pure Java, built the way the file is:
 * added tokens are cut out of the text first, the rest goes through the {@link Normalizer},
 * the {@link PreTokenizer} (into words) and the {@link Model} (WordPiece, BPE, Unigram or WordLevel);
 * the {@link PostProcessor} adds special tokens and the {@link Decoder} turns tokens back into
 * text. Covers BERT-style WordPiece, SentencePiece-style BPE with byte fallback (Llama-2,
 * Mistral, TinyLlama), byte-level BPE (GPT-2, Llama-3, Qwen2) and SentencePiece Unigram with its
 * Precompiled normaliser (T5, ALBERT, XLM-R, mBART).
 *
 * <p>The {@code truncation} and {@code padding} a file may carry are ignored: the caller picks
 * the maximum length per call ({@link #modelMaxLength()} reports the file's value) and no
 * padding is added. Pairs of texts follow the post-processor's pair template ({@link #encodePair}).
 * Non-goals: offsets, BPE dropout, Unigram sampling (subword regularisation).
 * Instances are immutable and thread-safe.
 */
public final class HfTokenizer implements Tokenizer {

    private final AddedVocabulary added;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final Model model;
    private final PostProcessor postProcessor;
    private final Decoder decoder;
    private final boolean byteLevelDecoder;
    private final int modelMaxLength;
    private final int vocabularySize;
    private final int bos;
    private final int eos;
    private final java.util.Set<Integer> endOfGeneration;

    /**
     * What a tokenizer assembled in memory knows for certain (a GGUF file states them): the
     * special ids (-1: none), the vocabulary size (the model's embedding rows) and the ids that
     * end generation besides EOS (EOT, EOM, ...).
     */
    record Fixed(int bos, int eos, int vocabularySize, List<Integer> endOfGeneration) {}

    private HfTokenizer(TokenizerJson.Parsed parsed, String source, JsonNode config) {
        this(parsed, source, config, null, List.of());
    }

    /** {@code moreEndOfGeneration}: ids generation_config.json names as eos_token_id. */
    private HfTokenizer(TokenizerJson.Parsed parsed, String source, JsonNode config, Fixed fixed, List<Integer> moreEndOfGeneration) {
        JsonNode root = parsed.root();
        Spec spec = new Spec(root, source, "tokenizer");
        this.normalizer = Normalizer.fromSpec(spec.child("normalizer"));
        this.preTokenizer = PreTokenizer.fromSpec(spec.child("pre_tokenizer"));
        this.model = Model.fromSpec(spec.child("model"), parsed.vocab(), parsed.merges(), parsed.scored());
        this.added = new AddedVocabulary(spec.child("added_tokens"), normalizer);
        this.postProcessor = PostProcessor.fromSpec(spec.child("post_processor"));
        this.decoder = Decoder.fromSpec(spec.child("decoder"));
        this.byteLevelDecoder = usesByteLevel(root.get("decoder"));
        Spec truncation = spec.child("truncation");
        int maxLength = truncation.isNull() ? 0 : truncation.integer("max_length", 0);
        JsonNode configured = config == null ? null : config.get("model_max_length");
        // tokenizer_config.json writes "no limit" as a huge float (1e30): only plain ints count.
        if (maxLength == 0 && configured != null && configured.canConvertToInt() && configured.isIntegralNumber()) maxLength = configured.intValue();
        this.modelMaxLength = Math.max(0, maxLength);
        int size = model.size();
        for (AddedVocabulary.Token t : added.tokens()) size = Math.max(size, t.id() + 1);
        List<Integer> extraEog = new ArrayList<>(moreEndOfGeneration);
        if (fixed != null) {
            this.vocabularySize = Math.max(size, fixed.vocabularySize());
            this.bos = fixed.bos();
            this.eos = fixed.eos();
            extraEog.addAll(fixed.endOfGeneration());
        } else {
            this.vocabularySize = size;
            this.bos = specialId(config, "bos_token", firstTemplateToken(), "<s>", "<|begin_of_text|>", "<bos>", "[CLS]");
            this.eos = specialId(config, "eos_token", -1, "</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "[SEP]");
        }
        List<Integer> addedIds = new ArrayList<>();
        for (AddedVocabulary.Token t : added.tokens()) addedIds.add(t.id());
        this.endOfGeneration = io.transfuse.tokenizer.EndOfGeneration.of(eos, extraEog, addedIds, this::idToToken);
    }

    /**
     * A tokenizer whose tokenizer.json was assembled in memory ({@code parsed}: the tree without
     * vocab and merges, and those two), with the special ids and vocabulary size given rather than
     * guessed from token names. {@code source} names it in error messages.
     */
    static HfTokenizer assemble(TokenizerJson.Parsed parsed, String source, Fixed fixed) {
        return new HfTokenizer(parsed, source, null, fixed, List.of());
    }

    /**
     * Reads {@code tokenizer.json}; when a {@code tokenizer_config.json} lies next to it, its
     * {@code bos_token} and {@code eos_token} name {@link #bos()} and {@link #eos()} and its
     * {@code model_max_length} fills in {@link #modelMaxLength()}. Errors name the file and the
     * component ("normalizer type 'Precompiled' at tokenizer.normalizer is not supported").
     */
    /**
     * The tokenizer.json of a model directory, or null when it has none; its ids must fit the model's
     * vocabulary of {@code modelVocab} (an error names the file otherwise).
     */
    public static HfTokenizer forModel(Path directory, int modelVocab) {
        Path file = directory.resolve("tokenizer.json");
        if (!java.nio.file.Files.isRegularFile(file)) return null;
        HfTokenizer t = load(file);
        if (t.vocabularySize() > modelVocab) {
            throw new io.transfuse.loader.ModelFormatException(file + ": the tokenizer has " + t.vocabularySize()
                    + " tokens but the model's vocabulary is " + modelVocab + " (config.json vocab_size)");
        }
        return t;
    }

    public static HfTokenizer load(Path tokenizerJson) {
        TokenizerJson.Parsed parsed;
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            parsed = TokenizerJson.read(new java.io.BufferedInputStream(in, 1 << 16), tokenizerJson.toString());
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(tokenizerJson + ": no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(tokenizerJson + ": cannot be read (" + e.getMessage() + ")", e);
        }
        Path configFile = tokenizerJson.resolveSibling("tokenizer_config.json");
        JsonNode config = Files.isRegularFile(configFile) ? Json.read(configFile) : null;
        return new HfTokenizer(parsed, tokenizerJson.toString(), config, null, generationConfigEos(tokenizerJson.resolveSibling("generation_config.json")));
    }

    /**
     * The eos_token_id of a generation_config.json (an id or a list: Llama 3 instruct lists
     * &lt;|end_of_text|&gt;, &lt;|eom_id|&gt; and &lt;|eot_id|&gt;), or none when there is no such file.
     */
    private static List<Integer> generationConfigEos(Path file) {
        if (!Files.isRegularFile(file)) return List.of();
        JsonNode eos = Json.read(file).get("eos_token_id");
        List<Integer> ids = new ArrayList<>();
        if (eos != null && eos.isIntegralNumber()) ids.add(eos.intValue());
        else if (eos != null && eos.isArray()) for (JsonNode id : eos) if (id.isIntegralNumber()) ids.add(id.intValue());
        return ids;
    }

    /** Reads tokenizer.json from a stream; {@code source} names it in error messages. */
    public static HfTokenizer load(InputStream tokenizerJson, String source) {
        return new HfTokenizer(TokenizerJson.read(tokenizerJson, source), source, null);
    }

    private static boolean usesByteLevel(JsonNode decoder) {
        if (decoder == null || decoder.isNull()) return false;
        if ("ByteLevel".equals(decoder.path("type").asText())) return true;
        for (JsonNode d : decoder.path("decoders")) if (usesByteLevel(d)) return true;
        return false;
    }

    /**
     * Encodes one text. {@code addSpecialTokens} lets the post-processor add the model's special
     * tokens; {@code maxLength > 0} truncates (from the right) so that the result, special tokens
     * included, is at most that long; 0 means no truncation.
     */
    public Encoding encode(String text, boolean addSpecialTokens, int maxLength) {
        if (maxLength < 0) throw new IllegalArgumentException("maxLength must be >= 0, got " + maxLength);
        IntList ids = new IntList();
        List<String> tokens = new ArrayList<>();
        List<Boolean> special = new ArrayList<>();
        List<String> words = new ArrayList<>();
        for (AddedVocabulary.Piece piece : added.splitRaw(text)) {
            if (piece.tokenId() >= 0) {
                addAdded(piece, ids, tokens, special);
                continue;
            }
            String normalized = normalizer == null ? piece.text() : normalizer.normalize(piece.text());
            for (AddedVocabulary.Piece part : added.splitNormalized(normalized, piece.atStart())) {
                if (part.tokenId() >= 0) {
                    addAdded(part, ids, tokens, special);
                    continue;
                }
                words.clear();
                if (preTokenizer == null) words.add(part.text());
                else preTokenizer.split(part.text(), part.atStart(), words);
                for (String word : words) {
                    model.tokenize(word, (id, token) -> {
                        ids.add(id);
                        tokens.add(token);
                        special.add(false);
                    });
                }
            }
        }
        int n = ids.size();
        if (maxLength > 0) {
            int reserved = addSpecialTokens && postProcessor != null ? postProcessor.addedTokens() : 0;
            n = Math.min(n, Math.max(0, maxLength - reserved));
        }
        boolean[] specialMask = new boolean[n];
        for (int i = 0; i < n; i++) specialMask[i] = special.get(i);
        Encoding encoding = new Encoding(Arrays.copyOf(ids.values(), n), new int[n], tokens.subList(0, n).toArray(String[]::new), specialMask);
        return postProcessor == null ? encoding : postProcessor.process(encoding, addSpecialTokens);
    }

    /**
     * Encodes a pair of texts as one sequence with the post-processor's pair template (a cross-encoder's
     * query and document: {@code [CLS] a [SEP] b [SEP]}, b with type id 1, for BERT; {@code <s> a </s></s> b </s>}
     * for RoBERTa). {@code maxLength > 0} truncates as Hugging Face's "longest_first" strategy does: the
     * shorter text is kept when it fits in half the room, else both get half.
     *
     * @throws UnsupportedOperationException when the file's post-processor has no pair template
     */
    public Encoding encodePair(String first, String second, int maxLength) {
        if (maxLength < 0) throw new IllegalArgumentException("maxLength must be >= 0, got " + maxLength);
        if (postProcessor == null) throw new UnsupportedOperationException("this tokenizer has no post_processor to join pairs of texts");
        Encoding a = encode(first, false, 0), b = encode(second, false, 0);
        int na = a.length(), nb = b.length();
        int budget = Math.max(0, maxLength - postProcessor.addedTokensPair());
        if (maxLength > 0 && na + nb > budget) {
            // Hugging Face's LongestFirst for pairs: the shorter text keeps its length when it fits in half the
            // budget and the longer takes the rest; otherwise both get half (the longer the odd token).
            boolean swap = na > nb;
            int shorter = Math.min(na, nb), longer;
            longer = shorter > budget ? shorter : Math.max(shorter, budget - shorter);
            if (shorter + longer > budget) {
                shorter = budget / 2;
                longer = shorter + budget % 2;
            }
            na = swap ? longer : shorter;
            nb = swap ? shorter : longer;
        }
        return postProcessor.processPair(a.prefix(na), b.prefix(nb));
    }

    /**
     * Ids that were tokenized elsewhere (a text's words one by one) wrapped in the post-processor's special
     * tokens, as {@link #encode} would wrap them; truncated first so the result is at most {@code maxLength}
     * long when that is positive.
     */
    public Encoding withSpecialTokens(int[] ids, int maxLength) {
        int n = ids.length;
        if (maxLength > 0) n = Math.min(n, Math.max(0, maxLength - (postProcessor == null ? 0 : postProcessor.addedTokens())));
        String[] tokens = new String[n];
        for (int i = 0; i < n; i++) tokens[i] = idToToken(ids[i]);
        Encoding e = new Encoding(Arrays.copyOf(ids, n), new int[n], tokens, new boolean[n]);
        return postProcessor == null ? e : postProcessor.process(e, true);
    }

    /** The token string is the matched text (with any lstrip/rstrip spaces), as in the Rust library. */
    private static void addAdded(AddedVocabulary.Piece piece, IntList ids, List<String> tokens, List<Boolean> special) {
        ids.add(piece.tokenId());
        tokens.add(piece.text());
        special.add(false); // like the Rust library: the mask marks only what the post-processor adds
    }

    /** Text of the ids; special tokens (added tokens marked special) are left out when asked. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> tokens = new ArrayList<>(ids.length);
        for (int id : ids) {
            String t = idToToken(id);
            if (t == null || (skipSpecialTokens && added.isSpecial(id))) continue;
            tokens.add(t);
        }
        if (decoder == null) return String.join(" ", tokens);
        return String.join("", decoder.decodeChain(tokens));
    }

    /** The vocabulary entry (or added token) of an id, or null. */
    public String idToToken(int id) {
        AddedVocabulary.Token t = added.byId(id);
        return t != null ? t.content() : model.idToToken(id);
    }

    @Override
    public String tokenText(int id) {
        return idToToken(id);
    }

    /** The id of a vocabulary entry or added token, or -1. */
    public int tokenToId(String token) {
        AddedVocabulary.Token t = added.byContent(token);
        return t != null ? t.id() : model.tokenToId(token);
    }

    public boolean isSpecial(int id) {
        return added.isSpecial(id);
    }

    /**
     * The model's maximum length: {@code truncation.max_length} of tokenizer.json, else
     * {@code model_max_length} of a tokenizer_config.json beside it, else 0 (unknown). Pass it
     * to {@link #encode(String, boolean, int)} to truncate like the file asks.
     */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    /** Ids of {@code text}; {@code addBos} adds the post-processor's special tokens (BOS for Llama, [CLS]/[SEP] for BERT). */
    @Override
    public int[] encode(String text, boolean addBos) {
        return encode(text, addBos, 0).ids();
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (added.isSpecial(id)) return new byte[0];
        String token = idToToken(id);
        if (token == null) return new byte[0];
        if (byteLevelDecoder && added.byId(id) == null) {
            byte[] b = ByteLevelAlphabet.decode(token);
            if (b != null) return b;
        }
        int b = Decoder.byteToken(token);
        if (b >= 0 && model.byteFallback()) return new byte[] {(byte) b};
        // At the start (or right after BOS) the decoder's start-of-text rules apply (the leading
        // space of a SentencePiece piece is dropped); elsewhere the token adds what decoding it
        // after the previous one adds (spaces between WordPiece words, no space before "##").
        if (previous < 0 || previous == bos || idToToken(previous) == null) return decode(new int[] {id}, true).getBytes(StandardCharsets.UTF_8);
        String before = decode(new int[] {previous}, false);
        String both = decode(new int[] {previous, id}, false);
        String text = both.startsWith(before) ? both.substring(before.length()) : decode(new int[] {id}, true);
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public int vocabularySize() {
        return vocabularySize;
    }

    /** Beginning-of-sequence id, or -1 when the tokenizer has none (Qwen2). */
    @Override
    public int bos() {
        return bos;
    }

    /** End-of-sequence id, or -1 when none is known. */
    @Override
    public int eos() {
        return eos;
    }

    @Override
    public java.util.Set<Integer> endOfGeneration() {
        return endOfGeneration;
    }

    private int firstTemplateToken() {
        if (postProcessor instanceof PostProcessor.Template t && !t.single().isEmpty() && t.single().getFirst().ids() != null) {
            return t.single().getFirst().ids()[0];
        }
        return -1;
    }

    private int specialId(JsonNode config, String key, int fallback, String... candidates) {
        if (config != null && config.has(key)) {
            JsonNode v = config.get(key);
            String content = v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
            return content == null ? -1 : tokenToId(content);
        }
        if (fallback >= 0) return fallback;
        for (String c : candidates) {
            AddedVocabulary.Token t = added.byContent(c);
            if (t != null && t.special()) return t.id();
        }
        return -1;
    }

    /** A growable int array. */
    private static final class IntList {
        private int[] a = new int[64];
        private int size;

        void add(int v) {
            if (size == a.length) a = Arrays.copyOf(a, size * 2);
            a[size++] = v;
        }

        int size() {
            return size;
        }

        int[] values() {
            return a;
        }
    }
}
