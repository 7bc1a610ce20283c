package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tokenizer of a Marian (opus-mt) folder, which has no tokenizer.json: {@code source.spm} and {@code target.spm}
 * (SentencePiece Unigram models) and {@code vocab.json} (piece to model id), as Hugging Face's MarianTokenizer uses
 * them: text is cut into pieces by the source model, each piece is looked up in vocab.json (unknown pieces become
 * {@code <unk>}) and {@code </s>} is appended; generated ids are turned back into pieces through vocab.json and joined
 * as the target model decodes pieces (U+2581 becomes a space, the first one dropped), special tokens (</s>, <unk>,
 * <pad>) adding nothing. Immutable and thread-safe.
 */
public final class MarianTokenizer implements Tokenizer {
    private final HfTokenizer source;
    private final SentencePieceModel sourceModel;
    private final Map<String, Integer> vocab;
    private final String[] pieces;
    private final int eos, unk, pad;
    private final Set<Integer> special;

    private MarianTokenizer(HfTokenizer source, SentencePieceModel sourceModel, Map<String, Integer> vocab, String[] pieces, int eos,
                            int unk, int pad) {
        this.source = source;
        this.sourceModel = sourceModel;
        this.vocab = vocab;
        this.pieces = pieces;
        this.eos = eos;
        this.unk = unk;
        this.pad = pad;
        this.special = Set.of(eos, unk, pad);
    }

    /** The tokenizer of a Marian folder, or null when it has no source.spm; its ids must fit {@code modelVocab}. */
    public static MarianTokenizer forModel(Path dir, int modelVocab) {
        Path spm = dir.resolve("source.spm");
        if (!Files.isRegularFile(spm)) return null;
        Path vocabFile = dir.resolve("vocab.json");
        JsonNode v = Json.read(vocabFile);
        Map<String, Integer> vocab = new HashMap<>();
        String[] pieces = new String[modelVocab];
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            int id = e.getValue().asInt(-1);
            if (!e.getValue().isIntegralNumber() || id < 0 || id >= modelVocab) {
                throw new ModelFormatException(vocabFile + ": '" + e.getKey() + "' has id " + e.getValue() + ", outside the model's vocabulary of "
                        + modelVocab + " (config.json vocab_size)");
            }
            vocab.put(e.getKey(), id);
            pieces[id] = e.getKey();
        }
        for (String s : new String[] {"</s>", "<unk>", "<pad>"}) {
            if (!vocab.containsKey(s)) throw new ModelFormatException(vocabFile + ": the special token " + s + " is missing");
        }
        SentencePieceModel model = SentencePieceModel.read(spm);
        HfTokenizer source = HfTokenizer.load(new ByteArrayInputStream(model.tokenizerJson().getBytes(StandardCharsets.UTF_8)),
                spm + " (as tokenizer.json)");
        return new MarianTokenizer(source, model, vocab, pieces, vocab.get("</s>"), vocab.get("<unk>"), vocab.get("<pad>"));
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        int[] spm = source.encode(text, false);
        int[] ids = new int[spm.length + (addBos ? 1 : 0)];
        for (int i = 0; i < spm.length; i++) {
            String piece = sourceModel.pieces().get(spm[i]);
            ids[i] = vocab.getOrDefault(piece, unk);
        }
        if (addBos) ids[spm.length] = eos;
        return ids;
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
        if (special.contains(id) || pieces[id] == null) return new byte[0];
        String text = pieces[id].replace('\u2581', ' ');
        boolean first = previous < 0 || previous == pad; // the start (special tokens elsewhere are skipped, not a start)
        if (first && text.startsWith(" ")) text = text.substring(1);
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The text of {@code ids}: their pieces without the special tokens, joined, U+2581 as spaces, and the whitespace
     * at the start removed (SentencePiece's decoder drops every leading U+2581, not only the first piece's).
     */
    @Override
    public String decode(int[] ids) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= pieces.length) {
                throw new IllegalArgumentException("ids[" + i + "] = " + id + " is outside the vocabulary [0, " + pieces.length + ")");
            }
            if (!special.contains(id) && pieces[id] != null) b.append(pieces[id]);
        }
        int start = 0;
        while (start < b.length() && b.charAt(start) == '\u2581') start++;
        return b.substring(start).replace('\u2581', ' ');
    }

    @Override
    public int vocabularySize() { return pieces.length; }

    /** Marian's decoder starts from pad: decoding "after" it drops the first piece's space. */
    @Override
    public int bos() { return pad; }

    @Override
    public int eos() { return eos; }
}
