package io.transfuse.examples;

import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.model.bert.RandomEncoder.Variant;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the README's text-task example on random-weight checkpoints (its outputs are checked against the reference in BertTaskHeadsTest). */
class TextTasksExampleTest {
    @Test
    void runs(@TempDir Path tmp) {
        Path cls = new RandomEncoder(Variant.DISTILBERT, 32, 1, 4, 64, 40, 32, 1, "gelu").withHead("SequenceClassification", "NEGATIVE", "POSITIVE")
                .write(tmp.resolve("cls"), 1, DType.F32);
        Path ner = new RandomEncoder(Variant.BERT, 32, 1, 4, 64, 40, 32, 1, "gelu").withHead("TokenClassification", "O", "B-PER", "I-PER")
                .write(tmp.resolve("ner"), 2, DType.F32);
        Path rr = new RandomEncoder(Variant.ELECTRA, 32, 1, 4, 64, 40, 16, 1, "gelu").withHead("SequenceClassification", "LABEL_0")
                .write(tmp.resolve("rr"), 3, DType.F32);
        String line = TextTasksExample.run(cls, ner, rr);
        assertTrue(line.matches("(NEGATIVE|POSITIVE) .*[01]"), line);
    }
}
