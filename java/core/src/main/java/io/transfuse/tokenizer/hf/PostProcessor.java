package io.transfuse.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code post_processor} of tokenizer.json: wraps the tokens of one sequence in the model's
 * special tokens ([CLS] ... [SEP], &lt;s&gt; ...) and sets the type ids; for a pair of sequences (a
 * cross-encoder's query and document) it follows the file's pair template
 * ({@code [CLS] A [SEP] B [SEP]} with B's type id 1 for BERT, {@code <s> A </s></s> B </s>} for RoBERTa).
 */
interface PostProcessor {
    /** How many tokens {@link #process} adds when asked to add special tokens. */
    int addedTokens();

    Encoding process(Encoding sequence, boolean addSpecialTokens);

    /** How many tokens {@link #processPair} adds. */
    default int addedTokensPair() {
        throw new UnsupportedOperationException("this tokenizer's post_processor has no template for pairs of sequences");
    }

    /** Joins two sequences with the special tokens of the pair template. */
    default Encoding processPair(Encoding a, Encoding b) {
        throw new UnsupportedOperationException("this tokenizer's post_processor has no template for pairs of sequences");
    }

    static PostProcessor fromSpec(Spec spec) {
        if (spec.isNull()) return null;
        return switch (spec.type()) {
            case "TemplateProcessing" -> Template.fromSpec(spec);
            case "BertProcessing" -> {
                Item cls = pairItem(spec.child("cls")), sep = pairItem(spec.child("sep"));
                Item sep1 = new Item(sep.ids(), sep.tokens(), 1);
                yield new Template(List.of(cls, new Item(null, null, 0), sep),
                        List.of(cls, new Item(null, null, 0), sep, new Item(null, new String[] {"B"}, 1), sep1));
            }
            case "RobertaProcessing" -> {
                // Hugging Face's RobertaProcessing: <s> A </s> </s> B </s>, every type id 0.
                Item cls = pairItem(spec.child("cls")), sep = pairItem(spec.child("sep"));
                yield new Template(List.of(cls, new Item(null, null, 0), sep),
                        List.of(cls, new Item(null, null, 0), sep, sep, new Item(null, new String[] {"B"}, 0), sep));
            }
            case "ByteLevel" -> null; // only trims offsets, which we do not compute
            case "Sequence" -> {
                Spec list = spec.list("processors");
                List<PostProcessor> parts = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    PostProcessor p = fromSpec(list.at(i));
                    if (p != null) parts.add(p);
                }
                yield new Sequence(parts);
            }
            default -> throw spec.unsupported("post_processor");
        };
    }

    private static Item pairItem(Spec s) {
        if (s.isNull() || !s.node().isArray() || s.size() != 2 || !s.node().get(1).canConvertToInt()) throw s.error("must be [token, id]");
        return new Item(new int[] {s.node().get(1).intValue()}, new String[] {s.node().get(0).asText()}, 0);
    }

    /**
     * A template piece: special token ids and their token strings, or for a sequence null ids and
     * tokens {"A"} or {"B"} (null: A), and its type id.
     */
    record Item(int[] ids, String[] tokens, int typeId) {}

    /** {@code pair} is null when the file has no pair template. */
    record Template(List<Item> single, List<Item> pair) implements PostProcessor {
        static Template fromSpec(Spec spec) {
            List<Item> single = items(spec, spec.list("single"));
            return new Template(single, spec.child("pair").isNull() ? null : items(spec, spec.list("pair")));
        }

        private static List<Item> items(Spec spec, Spec items) {
            Spec specials = spec.child("special_tokens");
            List<Item> out = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                Spec item = items.at(i);
                if (item.node().has("Sequence")) {
                    Spec seq = item.child("Sequence");
                    String which = seq.node().path("id").asText("A");
                    if (!which.equals("A") && !which.equals("B")) throw seq.error("id must be A or B, got '" + which + "'");
                    out.add(new Item(null, new String[] {which}, seq.integer("type_id", 0)));
                } else if (item.node().has("SpecialToken")) {
                    Spec st = item.child("SpecialToken");
                    String name = st.requireString("id");
                    Spec def = specials.isNull() ? specials : specials.child(name);
                    if (def.isNull()) throw st.error("special token '" + name + "' is not in special_tokens");
                    Spec idList = def.list("ids"), tokenList = def.list("tokens");
                    int[] ids = new int[idList.size()];
                    String[] tokens = new String[idList.size()];
                    for (int k = 0; k < ids.length; k++) {
                        ids[k] = idList.node().get(k).intValue();
                        tokens[k] = k < tokenList.size() ? tokenList.node().get(k).asText() : name;
                    }
                    out.add(new Item(ids, tokens, st.integer("type_id", 0)));
                } else {
                    throw item.error("must be a Sequence or a SpecialToken");
                }
            }
            return out;
        }

        @Override
        public int addedTokens() {
            int n = 0;
            for (Item i : single) if (i.ids != null) n += i.ids.length;
            return n;
        }

        @Override
        public int addedTokensPair() {
            if (pair == null) PostProcessor.super.addedTokensPair();
            int n = 0;
            for (Item i : pair) if (i.ids != null) n += i.ids.length;
            return n;
        }

        @Override
        public Encoding processPair(Encoding a, Encoding b) {
            if (pair == null) PostProcessor.super.processPair(a, b);
            int n = a.length() + b.length() + addedTokensPair();
            int[] ids = new int[n], types = new int[n];
            String[] tokens = new String[n];
            boolean[] special = new boolean[n];
            int k = 0;
            for (Item item : pair) {
                int[] ii = item.ids;
                String[] tt = item.tokens;
                boolean isSpecial = ii != null;
                if (!isSpecial) {
                    Encoding e = tt != null && tt[0].equals("B") ? b : a;
                    ii = e.ids();
                    tt = e.tokens();
                }
                for (int j = 0; j < ii.length; j++, k++) {
                    ids[k] = ii[j];
                    tokens[k] = tt[j];
                    special[k] = isSpecial;
                    types[k] = item.typeId;
                }
            }
            return new Encoding(ids, types, tokens, special);
        }

        @Override
        public Encoding process(Encoding sequence, boolean addSpecialTokens) {
            int n = sequence.length() + (addSpecialTokens ? addedTokens() : 0);
            int[] ids = new int[n], types = new int[n];
            String[] tokens = new String[n];
            boolean[] special = new boolean[n];
            int k = 0;
            int[] seqIds = sequence.ids();
            String[] seqTokens = sequence.tokens();
            int[] seqSpecial = sequence.specialTokensMask();
            for (Item item : single) {
                if (item.ids == null) {
                    for (int j = 0; j < seqIds.length; j++, k++) {
                        ids[k] = seqIds[j];
                        tokens[k] = seqTokens[j];
                        special[k] = seqSpecial[j] == 1;
                        types[k] = item.typeId;
                    }
                } else if (addSpecialTokens) {
                    for (int j = 0; j < item.ids.length; j++, k++) {
                        ids[k] = item.ids[j];
                        tokens[k] = item.tokens[j];
                        special[k] = true;
                        types[k] = item.typeId;
                    }
                }
            }
            return new Encoding(ids, types, tokens, special);
        }
    }

    record Sequence(List<PostProcessor> parts) implements PostProcessor {
        @Override
        public int addedTokensPair() {
            return only().addedTokensPair();
        }

        @Override
        public Encoding processPair(Encoding a, Encoding b) {
            return only().processPair(a, b);
        }

        /** Pairs go through a Sequence only when one processor in it adds tokens (ByteLevel ones are dropped at parse). */
        private PostProcessor only() {
            if (parts.size() != 1) throw new UnsupportedOperationException("pairs through a Sequence of " + parts.size() + " post-processors are not supported");
            return parts.get(0);
        }

        @Override
        public int addedTokens() {
            int n = 0;
            for (PostProcessor p : parts) n += p.addedTokens();
            return n;
        }

        @Override
        public Encoding process(Encoding sequence, boolean addSpecialTokens) {
            for (PostProcessor p : parts) sequence = p.process(sequence, addSpecialTokens);
            return sequence;
        }
    }
}
