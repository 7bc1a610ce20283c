package io.transfuse.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;

/**
 * The {@code post_processor} of tokenizer.json: wraps the tokens of one sequence in the model's
 * special tokens ([CLS] ... [SEP], &lt;s&gt; ...) and sets the type ids. Single sequences only.
 */
interface PostProcessor {
    /** How many tokens {@link #process} adds when asked to add special tokens. */
    int addedTokens();

    Encoding process(Encoding sequence, boolean addSpecialTokens);

    static PostProcessor fromSpec(Spec spec) {
        if (spec.isNull()) return null;
        return switch (spec.type()) {
            case "TemplateProcessing" -> Template.fromSpec(spec);
            case "BertProcessing", "RobertaProcessing" -> {
                Item cls = pairItem(spec.child("cls")), sep = pairItem(spec.child("sep"));
                yield new Template(List.of(cls, new Item(null, null, 0), sep));
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

    /** A template piece: special token ids (or null for the sequence itself) and its type id. */
    record Item(int[] ids, String[] tokens, int typeId) {}

    record Template(List<Item> single) implements PostProcessor {
        static Template fromSpec(Spec spec) {
            Spec items = spec.list("single");
            Spec specials = spec.child("special_tokens");
            List<Item> out = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                Spec item = items.at(i);
                if (item.node().has("Sequence")) {
                    out.add(new Item(null, null, item.child("Sequence").integer("type_id", 0)));
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
            return new Template(out);
        }

        @Override
        public int addedTokens() {
            int n = 0;
            for (Item i : single) if (i.ids != null) n += i.ids.length;
            return n;
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
