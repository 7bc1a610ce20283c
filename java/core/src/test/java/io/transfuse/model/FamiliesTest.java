package io.transfuse.model;

import io.transfuse.LoadOptions;
import io.transfuse.TestModels;
import io.transfuse.Transfuse;
import io.transfuse.loader.GgufWriter;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomMamba2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.loader.RandomVitModel;
import io.transfuse.model.gpt2.Gpt2Family;
import io.transfuse.model.llama.LlamaFamily;
import io.transfuse.model.mamba.Mamba2Family;
import io.transfuse.model.mamba.MambaFamily;
import io.transfuse.model.vit.ViTFamily;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The family registry: each format's files map to their family once; the rest is a one-line error naming what is supported. */
class FamiliesTest {
    @TempDir
    Path dir;

    @Test
    void eachFormatIsRecognised() {
        assertInstanceOf(LlamaFamily.class, Families.of(TestModels.storiesGguf()));
        assertInstanceOf(LlamaFamily.class, Families.of(TestModels.storiesHf()));
        Path gpt2 = dir.resolve("gpt2.gguf"), gpt2Hf = dir.resolve("gpt2"), mamba = dir.resolve("mamba");
        RandomGpt2Model.writeGguf(gpt2, RandomGpt2Model.Shape.TINY, DType.F32, 1, s -> {});
        RandomGpt2Model.writeHf(gpt2Hf, RandomGpt2Model.Shape.TINY, DType.F32, 1, s -> {});
        RandomMambaModel.write(mamba, RandomMambaModel.Shape.TINY, DType.F32, 1, s -> {});
        assertInstanceOf(Gpt2Family.class, Families.of(gpt2));
        assertInstanceOf(Gpt2Family.class, Families.of(gpt2Hf));
        assertInstanceOf(MambaFamily.class, Families.of(mamba));
        Path mamba2 = dir.resolve("mamba2");
        RandomMamba2Model.write(mamba2, RandomMamba2Model.Shape.TINY, DType.F32, 1, s -> {});
        assertInstanceOf(Mamba2Family.class, Families.of(mamba2));
        assertInstanceOf(ViTFamily.class, Families.of(RandomVitModel.tiny().write(dir.resolve("vit"))));
    }

    @Test
    void unknownArchitecturesAndWrongTasksAreOneLineErrors() {
        Path falcon = dir.resolve("falcon.gguf");
        new GgufWriter().put("general.architecture", "falcon").write(falcon);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Transfuse.load(falcon));
        assertTrue(e.getMessage().contains("'falcon' is not supported") && e.getMessage().contains("gpt2 (text generation)")
                && e.getMessage().contains("bert (text embeddings)"), e.getMessage());
        Path vit = RandomVitModel.tiny().write(dir.resolve("vit"));
        ModelFormatException task = assertThrows(ModelFormatException.class, () -> Transfuse.load(vit, LoadOptions.defaults()));
        assertTrue(task.getMessage().contains("a vit model, for image classification, not text generation")
                && task.getMessage().contains("text generation supports: llama, gpt2, mamba")
                && task.getMessage().contains("Transfuse.loadClassifier (CLI: transfuse classify)"), task.getMessage());
        ModelFormatException encoder = assertThrows(ModelFormatException.class,
                () -> Transfuse.loadEncoder(TestModels.storiesGguf(), LoadOptions.defaults()));
        assertTrue(encoder.getMessage().contains("a llama model, for text generation, not text embeddings (text embeddings supports: bert)")
                && encoder.getMessage().contains("transfuse generate"), encoder.getMessage());
    }
}
