package io.transfuse.generate;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@link GenerationConfig} from a Hugging Face model folder the way transformers does when it loads a
 * model: generation_config.json when the folder has one (the whole file, nothing merged from config.json), else
 * the generation keys of config.json ({@code GenerationConfig.from_model_config}), where a key missing at the top
 * level is taken from a {@code decoder}, {@code generator} or {@code text_config} sub-config. Keys Transfuse does
 * not know are ignored as HF keeps them unused; keys it knows but does not implement are listed in
 * {@link GenerationConfig#unsupported()} when they hold a value other than HF's default. Every error names the
 * file and the key.
 */
public final class GenerationConfigFiles {
    public static final String GENERATION_CONFIG = "generation_config.json";
    public static final String MODEL_CONFIG = "config.json";

    /** Sub-configs from_model_config reads unset keys from, in HF's order. */
    private static final List<String> DECODER_CONFIGS = List.of("decoder", "generator", "text_config");

    /** Settings that change what is generated but are not implemented, with the values that mean "off" (null always does). */
    private static final Map<String, List<Object>> UNSUPPORTED = Map.ofEntries(
            Map.entry("num_beam_groups", List.of(1)), Map.entry("diversity_penalty", List.of(0.0)),
            Map.entry("penalty_alpha", List.of()), Map.entry("typical_p", List.of(1.0)),
            Map.entry("epsilon_cutoff", List.of(0.0)), Map.entry("eta_cutoff", List.of(0.0)), Map.entry("min_p", List.of()),
            Map.entry("top_h", List.of()), Map.entry("encoder_no_repeat_ngram_size", List.of(0)),
            Map.entry("encoder_repetition_penalty", List.of(1.0)), Map.entry("exponential_decay_length_penalty", List.of()),
            Map.entry("suppress_tokens", List.of(List.of())), Map.entry("begin_suppress_tokens", List.of(List.of())),
            Map.entry("sequence_bias", List.of()), Map.entry("constraints", List.of()), Map.entry("force_words_ids", List.of()),
            Map.entry("forced_decoder_ids", List.of(List.of())), Map.entry("guidance_scale", List.of(1.0)),
            Map.entry("watermarking_config", List.of()), Map.entry("stop_strings", List.of()), Map.entry("dola_layers", List.of()));

    private GenerationConfigFiles() {}

    /** The generation settings of the model in {@code modelDir}: generation_config.json, else config.json. */
    public static GenerationConfig load(Path modelDir) {
        Path generation = modelDir.resolve(GENERATION_CONFIG);
        if (Files.isRegularFile(generation)) return read(generation);
        Path model = modelDir.resolve(MODEL_CONFIG);
        if (Files.isRegularFile(model)) return fromModelConfig(model);
        throw new ModelFormatException(modelDir + ": neither " + GENERATION_CONFIG + " nor " + MODEL_CONFIG + " is there");
    }

    /** A generation_config.json file. */
    public static GenerationConfig read(Path file) {
        return parse(Json.read(file), null, file.toString());
    }

    /** The generation keys of a config.json file, unset ones filled from its decoder sub-config. */
    public static GenerationConfig fromModelConfig(Path file) {
        JsonNode root = Json.read(file);
        JsonNode decoder = null;
        for (String name : DECODER_CONFIGS) {
            JsonNode sub = root.get(name);
            if (sub != null && sub.isObject() && !sub.isEmpty()) {
                decoder = sub;
                break;
            }
        }
        return parse(root, decoder, file.toString());
    }

    /** Parses {@code root}; a key unset there is read from {@code fallback} when that is not null. */
    static GenerationConfig parse(JsonNode root, JsonNode fallback, String source) {
        Keys k = new Keys(root, fallback, source);
        GenerationConfig d = GenerationConfig.defaults();
        List<String> unsupported = new ArrayList<>();
        for (var e : UNSUPPORTED.entrySet()) {
            JsonNode v = k.get(e.getKey());
            if (v != null && !isDefault(v, e.getValue())) unsupported.add(e.getKey() + " = " + v);
        }
        unsupported.sort(null);
        return new GenerationConfig(source,
                k.integer("max_length", d.maxLength()),
                k.integer("max_new_tokens", d.maxNewTokens()),
                k.integer("min_length", d.minLength()),
                k.integer("min_new_tokens", d.minNewTokens()),
                k.integer("num_beams", d.numBeams()),
                k.integer("num_return_sequences", d.numReturnSequences()),
                k.number("length_penalty", d.lengthPenalty()),
                k.earlyStopping(d.earlyStopping()),
                k.integer("no_repeat_ngram_size", d.noRepeatNgramSize()),
                k.number("repetition_penalty", d.repetitionPenalty()),
                k.tokenSequences("bad_words_ids"),
                k.tokens("eos_token_id"),
                k.integer("pad_token_id", -1),
                k.integer("bos_token_id", -1),
                k.integer("decoder_start_token_id", -1),
                k.integer("forced_bos_token_id", -1),
                k.tokens("forced_eos_token_id"),
                k.bool("renormalize_logits", d.renormalizeLogits()),
                k.bool("do_sample", d.doSample()),
                k.number("temperature", d.temperature()),
                k.integer("top_k", d.topK()),
                k.number("top_p", d.topP()),
                unsupported);
    }

    private static boolean isDefault(JsonNode v, List<Object> offValues) {
        if (v.isNull()) return true;
        for (Object off : offValues) {
            if (off instanceof Integer i && v.isNumber() && v.doubleValue() == i) return true;
            if (off instanceof Double x && v.isNumber() && v.doubleValue() == x) return true;
            if (off instanceof List<?> l && l.isEmpty() && v.isArray() && v.isEmpty()) return true;
        }
        return false;
    }

    /** Typed reads of one config's keys, errors naming the source and the key. */
    private record Keys(JsonNode root, JsonNode fallback, String source) {
        /** The value of {@code key}, or null when it is missing or JSON null (HF: None, the default). */
        JsonNode get(String key) {
            JsonNode v = root.get(key);
            if ((v == null || v.isNull()) && fallback != null) v = fallback.get(key);
            return v == null || v.isNull() ? null : v;
        }

        int integer(String key, int fallbackValue) {
            JsonNode v = get(key);
            return v == null ? fallbackValue : toInt(key, v, v);
        }

        double number(String key, double fallbackValue) {
            JsonNode v = get(key);
            if (v == null) return fallbackValue;
            if (!v.isNumber()) GenerationConfig.fail(source, key, "must be a number", v);
            return v.doubleValue();
        }

        boolean bool(String key, boolean fallbackValue) {
            JsonNode v = get(key);
            if (v == null) return fallbackValue;
            if (!v.isBoolean()) GenerationConfig.fail(source, key, "must be true or false", v);
            return v.booleanValue();
        }

        EarlyStopping earlyStopping(EarlyStopping fallbackValue) {
            JsonNode v = get("early_stopping");
            if (v == null) return fallbackValue;
            if (v.isBoolean()) return v.booleanValue() ? EarlyStopping.TRUE : EarlyStopping.FALSE;
            if (v.isTextual() && v.textValue().equals("never")) return EarlyStopping.NEVER;
            GenerationConfig.fail(source, "early_stopping", "must be true, false or \"never\"", v);
            return null;
        }

        /** A token id or a list of them (eos_token_id, forced_eos_token_id). */
        List<Integer> tokens(String key) {
            JsonNode v = get(key);
            if (v == null) return List.of();
            if (!v.isArray()) return List.of(toInt(key, v, v));
            List<Integer> ids = new ArrayList<>();
            for (JsonNode e : v) ids.add(toInt(key, e, v));
            return ids;
        }

        /** A list of token-id lists (bad_words_ids). */
        List<List<Integer>> tokenSequences(String key) {
            JsonNode v = get(key);
            if (v == null) return List.of();
            if (!v.isArray()) GenerationConfig.fail(source, key, "must be a list of lists of token ids", v);
            List<List<Integer>> out = new ArrayList<>();
            for (JsonNode seq : v) {
                if (!seq.isArray()) GenerationConfig.fail(source, key, "must be a list of lists of token ids", v);
                List<Integer> ids = new ArrayList<>();
                for (JsonNode e : seq) ids.add(toInt(key, e, v));
                out.add(ids);
            }
            return out;
        }

        private int toInt(String key, JsonNode e, JsonNode whole) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) GenerationConfig.fail(source, key, "must be an integer", whole);
            return e.intValue();
        }
    }
}
