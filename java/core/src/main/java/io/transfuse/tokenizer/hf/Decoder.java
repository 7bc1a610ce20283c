package io.transfuse.tokenizer.hf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code decoder} of tokenizer.json: turns token strings back into text. Like the Rust
 * library, each decoder maps a list of tokens to a list of tokens and the results are joined.
 */
interface Decoder {
    List<String> decodeChain(List<String> tokens);

    static Decoder fromSpec(Spec spec) {
        if (spec.isNull()) return null;
        return switch (spec.type()) {
            case "WordPiece" -> new WordPieceDecoder(spec.string("prefix", "##"), spec.bool("cleanup", true));
            case "ByteLevel" -> Decoder::byteLevel;
            case "Metaspace" -> {
                PreTokenizer.Metaspace m = PreTokenizer.Metaspace.fromSpec(spec);
                yield new MetaspaceDecoder(m.replacement().codePointAt(0), !m.scheme().equals("never"));
            }
            case "Replace" -> {
                Pattern p = Patterns.of(spec.child("pattern"));
                String content = java.util.regex.Matcher.quoteReplacement(spec.requireString("content"));
                yield tokens -> tokens.stream().map(t -> p.matcher(t).replaceAll(content)).toList();
            }
            case "ByteFallback" -> Decoder::byteFallback;
            case "Fuse" -> tokens -> List.of(String.join("", tokens));
            case "Strip" -> {
                String content = spec.requireString("content");
                if (content.codePointCount(0, content.length()) != 1) throw spec.error("'content' must be one character");
                int c = content.codePointAt(0);
                int start = spec.integer("start", 0), stop = spec.integer("stop", 0);
                yield tokens -> tokens.stream().map(t -> strip(t, c, start, stop)).toList();
            }
            case "BPEDecoder" -> {
                String suffix = spec.string("suffix", "</w>");
                yield tokens -> {
                    List<String> out = new ArrayList<>(tokens.size());
                    for (int i = 0; i < tokens.size(); i++) out.add(tokens.get(i).replace(suffix, i == tokens.size() - 1 ? "" : " "));
                    return out;
                };
            }
            case "Sequence" -> {
                Spec list = spec.list("decoders");
                List<Decoder> parts = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    Decoder d = fromSpec(list.at(i));
                    if (d != null) parts.add(d);
                }
                yield tokens -> {
                    for (Decoder d : parts) tokens = d.decodeChain(tokens);
                    return tokens;
                };
            }
            default -> throw spec.unsupported("decoder");
        };
    }

    /** Joins the tokens' bytes (GPT-2 alphabet) and decodes them as UTF-8, replacing bad sequences. */
    static List<String> byteLevel(List<String> tokens) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (String t : tokens) {
            byte[] b = ByteLevelAlphabet.decode(t);
            bytes.writeBytes(b != null ? b : t.getBytes(StandardCharsets.UTF_8));
        }
        return List.of(bytes.toString(StandardCharsets.UTF_8));
    }

    /** Byte value of a {@code <0xNN>} token, or -1. */
    static int byteToken(String t) {
        if (t.length() != 6 || !t.startsWith("<0x") || t.charAt(5) != '>') return -1;
        try {
            return Integer.parseInt(t.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Runs of byte tokens become their UTF-8 text, or one U+FFFD per byte when not valid UTF-8. */
    static List<String> byteFallback(List<String> tokens) {
        List<String> out = new ArrayList<>(tokens.size());
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (String t : tokens) {
            int b = byteToken(t);
            if (b >= 0) {
                pending.write(b);
                continue;
            }
            flushBytes(pending, out);
            out.add(t);
        }
        flushBytes(pending, out);
        return out;
    }

    private static void flushBytes(ByteArrayOutputStream pending, List<String> out) {
        if (pending.size() == 0) return;
        byte[] bytes = pending.toByteArray();
        pending.reset();
        try {
            out.add(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString());
        } catch (CharacterCodingException e) {
            for (int i = 0; i < bytes.length; i++) out.add("\uFFFD");
        }
    }

    static String strip(String token, int c, int start, int stop) {
        int[] cps = token.codePoints().toArray();
        int from = 0;
        for (int i = 0; i < Math.min(start, cps.length) && cps[i] == c; i++) from = i + 1;
        int to = cps.length;
        for (int i = 0; i < Math.min(stop, cps.length) && cps[cps.length - 1 - i] == c; i++) to = cps.length - 1 - i;
        if (to <= from) return "";
        return new String(cps, from, to - from);
    }

    record WordPieceDecoder(String prefix, boolean cleanup) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                if (i != 0) t = t.startsWith(prefix) ? t.substring(prefix.length()) : " " + t;
                out.add(cleanup ? cleanup(t) : t);
            }
            return out;
        }

        static String cleanup(String s) {
            return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                    .replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                    .replace(" 've", "'ve").replace(" 're", "'re");
        }
    }

    /** U+2581 back to spaces; in the first token the replacement characters are dropped instead. */
    record MetaspaceDecoder(int replacement, boolean prependedSpace) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (int i = 0; i < tokens.size(); i++) {
                StringBuilder sb = new StringBuilder();
                final int index = i;
                tokens.get(i).codePoints().forEach(c -> {
                    if (c != replacement) sb.appendCodePoint(c);
                    else if (!(index == 0 && prependedSpace)) sb.append(' ');
                });
                out.add(sb.toString());
            }
            return out;
        }
    }
}
