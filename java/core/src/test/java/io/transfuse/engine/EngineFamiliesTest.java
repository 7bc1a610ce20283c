package io.transfuse.engine;

import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.SingleSessionGeneration;
import io.transfuse.Transfuse;
import io.transfuse.loader.RandomGpt2Model;
import io.transfuse.loader.RandomMamba2Model;
import io.transfuse.loader.RandomMambaModel;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The engine on the other decoder families: GPT-2 (learned positions, paged KV) and Mamba (recurrent state
 * slots, no KV blocks and so no prefix cache; more requests than slots wait for one). Concurrent requests give
 * what each gives alone.
 */
class EngineFamiliesTest {
    @TempDir
    Path dir;

    static void check(Path model, int slots) {
        String[] prompts = {"the cat", "a dog and the", "one day", "hello hello", "once upon", "we went", "it is", "so"};
        try (LanguageModel lm = Transfuse.load(model, LoadOptions.defaults().withDevice(Device.CPU).withMaxSequences(slots))) {
            List<String> serial = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                serial.add(SingleSessionGeneration.run(lm, prompts[i], GenerateOptions.defaults().withMaxTokens(6 + i)).text());
            }
            try (Engine engine = Engine.start(lm, EngineOptions.defaults().withMaxSequences(slots))) {
                List<Generation> gens = new ArrayList<>();
                for (int i = 0; i < prompts.length; i++) gens.add(engine.generate(prompts[i], GenerateOptions.defaults().withMaxTokens(6 + i), s -> {}));
                for (int i = 0; i < prompts.length; i++) assertEquals(serial.get(i), gens.get(i).join().text(), model + ": " + prompts[i]);
            }
        }
    }

    @Test
    void gpt2() {
        Path m = dir.resolve("gpt2");
        RandomGpt2Model.writeHf(m, RandomGpt2Model.Shape.TINY, DType.F32, 3, s -> {});
        check(m, 4);
    }

    @Test
    void mamba() {
        Path m = dir.resolve("mamba");
        RandomMambaModel.write(m, RandomMambaModel.Shape.TINY, DType.F32, 3, s -> {});
        check(m, 4);
    }

    @Test
    void mamba2() {
        Path m = dir.resolve("mamba2");
        RandomMamba2Model.write(m, RandomMamba2Model.Shape.TINY, DType.F32, 3, s -> {});
        check(m, 4);
    }
}
