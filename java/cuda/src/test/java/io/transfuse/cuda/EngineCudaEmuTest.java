package io.transfuse.cuda;

import io.transfuse.internal.Internals;
import io.transfuse.Device;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.Generation;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The engine on cuda-emu (the Java CUDA backend over the emulated runtime, the real kernels): concurrent
 * requests, batched into shared passes with chunked prefill and prefix-cached blocks, generate what each
 * generates alone through {@link LanguageModel#generate} on the same backend, and give their KV blocks back.
 */
class EngineCudaEmuTest {
    @Test
    void concurrentRequestsMatchSerialGeneration() {
        String shared = "Once upon a time, there was a little girl named Lily. She liked to play outside. ";
        String[] prompts = {"The cat", shared + "One day", "Tom had a ball", shared + "The dog", "Sue", shared + "They"};
        try (LanguageModel lm = Transfuse.load(TestModel.stories260K(), LoadOptions.defaults().withDevice(Device.CUDA_EMU).withMaxSequences(8))) {
            List<GenerationResult> serial = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) serial.add(lm.generate(prompts[i], GenerateOptions.defaults().withMaxTokens(12 + 3 * i), s -> {}));
            int before = Internals.decoder(lm).blockPool().held();
            try (Engine engine = Engine.start(lm, EngineOptions.defaults().withMaxBatchTokens(32))) {
                engine.generate(shared, GenerateOptions.defaults().withMaxTokens(2), s -> {}).join();
                List<Generation> gens = new ArrayList<>();
                for (int i = 0; i < prompts.length; i++) gens.add(engine.generate(prompts[i], GenerateOptions.defaults().withMaxTokens(12 + 3 * i), s -> {}));
                for (int i = 0; i < prompts.length; i++) assertEquals(serial.get(i).text(), gens.get(i).join().text(), prompts[i]);
                long until = System.nanoTime() + 5_000_000_000L;
                while (engine.stats().running() > 0 && System.nanoTime() < until) Thread.onSpinWait();
                assertEquals(before, Internals.decoder(lm).blockPool().held(), "KV blocks not given back: " + engine.stats());
                assertEquals(true, engine.stats().prefixHitBlocks() > 0, engine.stats().toString());
            }
        }
    }
}
