package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.loader.Json;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.BertFamily;

import java.nio.file.Files;
import java.nio.file.Path;

/** Which task a model directory's config.json is for, so that {@code classify} needs no --task for the usual cases. */
final class TextTasks {
    private TextTasks() {}

    /** "tokens" (token classification, ELECTRA's discriminator), "classify" (a BERT-family text classifier, MobileBERT, ModernBERT, nomic-bert and JinaBERT included) or "image". */
    static String taskOf(Path model) {
        Path config = model.resolve("config.json");
        if (!Files.isRegularFile(config)) return "image";
        JsonNode c = Json.read(config);
        String arch = c.path("architectures").path(0).asText("");
        String type = c.path("model_type").asText("");
        if (!BertConfig.MODEL_TYPES.contains(type) && !BertFamily.VARIANT_TYPES.contains(type)) return "image";
        return arch.endsWith("ForTokenClassification") || arch.equals("ElectraForPreTraining") ? "tokens" : "classify";
    }
}
