package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.ModelFormatException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A SentencePiece {@code .model} / {@code .spm} file (a protobuf ModelProto, read by hand: pieces = 1 {piece = 1,
 * score = 2, type = 3}, trainer_spec = 2 {model_type = 3, unk_id = 40}, normalizer_spec = 3 {precompiled_charsmap = 2})
 * and the tokenizer.json that Hugging Face's converters give a Unigram model of this kind (T5's layout: the
 * Precompiled normaliser, WhitespaceSplit + Metaspace, Unigram, no post-processor), which {@code HfTokenizer} runs.
 */
record SentencePieceModel(Path file, List<String> pieces, float[] scores, int[] types, int unkId, byte[] charsmap) {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

    static SentencePieceModel read(Path file) {
        byte[] data;
        try {
            data = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        int[] unk = {0}, modelType = {1};
        byte[][] charsmap = {new byte[0]};
        try {
            Proto top = new Proto(ByteBuffer.wrap(data));
            while (top.next()) {
                switch (top.field) {
                    case 1 -> {
                        Proto p = top.message();
                        String piece = "";
                        float score = 0;
                        int type = NORMAL;
                        while (p.next()) {
                            switch (p.field) {
                                case 1 -> piece = new String(p.bytes(), StandardCharsets.UTF_8);
                                case 2 -> score = p.float32();
                                case 3 -> type = (int) p.varint();
                                default -> p.skip();
                            }
                        }
                        pieces.add(piece);
                        scores.add(score);
                        types.add(type);
                    }
                    case 2 -> {
                        Proto t = top.message();
                        while (t.next()) {
                            if (t.field == 40) unk[0] = (int) t.varint();
                            else if (t.field == 3) modelType[0] = (int) t.varint();
                            else t.skip();
                        }
                    }
                    case 3 -> {
                        Proto n = top.message();
                        while (n.next()) {
                            if (n.field == 2) charsmap[0] = n.bytes();
                            else n.skip();
                        }
                    }
                    default -> top.skip();
                }
            }
        } catch (RuntimeException e) {
            throw new ModelFormatException(file + ": not a SentencePiece model (" + e.getMessage() + ")", e);
        }
        if (pieces.isEmpty()) throw new ModelFormatException(file + ": a SentencePiece model without pieces");
        if (modelType[0] != 1) {
            throw new ModelFormatException(file + ": SentencePiece model_type " + modelType[0] + " is not supported (1, Unigram, as Marian's are)");
        }
        float[] s = new float[scores.size()];
        int[] ty = new int[types.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
            ty[i] = types.get(i);
        }
        if (unk[0] < 0 || unk[0] >= pieces.size()) throw new ModelFormatException(file + ": unk_id " + unk[0] + " is not a piece");
        return new SentencePieceModel(file, List.copyOf(pieces), s, ty, unk[0], charsmap[0]);
    }

    /** The tokenizer.json of this model in T5's converter layout, without special tokens around a sequence. */
    String tokenizerJson() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode().put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < pieces.size(); i++) {
            if (types[i] != CONTROL && types[i] != UNKNOWN) continue;
            added.addObject().put("id", i).put("content", pieces.get(i)).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        if (charsmap.length > 0) {
            root.putObject("normalizer").put("type", "Precompiled").put("precompiled_charsmap", Base64.getEncoder().encodeToString(charsmap));
        } else {
            root.putNull("normalizer");
        }
        ArrayNode pre = root.putObject("pre_tokenizer").put("type", "Sequence").putArray("pretokenizers");
        pre.addObject().put("type", "WhitespaceSplit");
        pre.addObject().put("type", "Metaspace").put("replacement", "\u2581").put("add_prefix_space", true);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "Metaspace").put("replacement", "\u2581").put("add_prefix_space", true);
        ObjectNode model = root.putObject("model").put("type", "Unigram").put("unk_id", unkId);
        ArrayNode vocab = model.putArray("vocab");
        for (int i = 0; i < pieces.size(); i++) vocab.addArray().add(pieces.get(i)).add((double) scores[i]);
        return root.toString();
    }

    /** A protobuf wire-format reader over one message. */
    private static final class Proto {
        private final ByteBuffer b;
        int field, wire;

        Proto(ByteBuffer b) { this.b = b.order(ByteOrder.LITTLE_ENDIAN); }

        boolean next() {
            if (!b.hasRemaining()) return false;
            long key = varint();
            field = (int) (key >>> 3);
            wire = (int) (key & 7);
            return true;
        }

        long varint() {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                if (shift > 63) throw new IllegalStateException("a varint longer than 10 bytes");
                byte x = b.get();
                v |= (long) (x & 0x7F) << shift;
                if (x >= 0) return v;
            }
        }

        float float32() {
            if (wire != 5) throw new IllegalStateException("field " + field + " is not a float");
            return b.getFloat();
        }

        byte[] bytes() {
            if (wire != 2) throw new IllegalStateException("field " + field + " is not length-delimited");
            byte[] v = new byte[Math.toIntExact(varint())];
            b.get(v);
            return v;
        }

        Proto message() { return new Proto(ByteBuffer.wrap(bytes())); }

        void skip() {
            switch (wire) {
                case 0 -> varint();
                case 1 -> b.position(b.position() + 8);
                case 2 -> {
                    int n = Math.toIntExact(varint()); // before reading the position: the length's own bytes come first
                    b.position(Math.addExact(b.position(), n));
                }
                case 5 -> b.position(b.position() + 4);
                default -> throw new IllegalStateException("wire type " + wire);
            }
        }
    }
}
