package io.transfuse.cli;

import io.transfuse.cuda.jcuda.GpuProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

import java.util.Map;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code generate --device}: cuda-emu prints what cpu prints; cuda without a GPU fails in one line. Every command
 * that loads a model takes the same {@code --device} and {@code --threads} and refuses an unknown device alike.
 */
class DeviceOptionTest {
    @BeforeAll
    static void home() {
        MainTest.home();
    }

    @Test
    void cudaEmuGreedyTextEqualsCpu() {
        MainTest.Run cpu = run("generate", "--device", "cpu", "--temperature", "0", "--max-tokens", "60", "Once upon a time");
        MainTest.Run emu = run("generate", "--device", "cuda-emu", "--temperature", "0", "--max-tokens", "60", "Once upon a time");
        assertEquals(0, cpu.code(), cpu.err());
        assertEquals(0, emu.code(), emu.err());
        assertEquals(cpu.out(), emu.out());
    }

    @Test
    void cudaWithoutGpuFailsWithOneLine() {
        assumeFalse(GpuProbe.present(), "a GPU is present");
        assertOneLineError(run("generate", "--device", "cuda", "Once"), 1, "no CUDA device/driver was found");
    }

    @Test
    void unknownDeviceNamesTheValidOnes() {
        assertOneLineError(run("generate", "--device", "tpu", "Once"), 2, "tpu", "cuda-emu");
    }

    /** Each command that loads a model, with the least arguments it parses (the device is refused before any load). */
    private static final Map<String, String[]> MODEL_COMMANDS = Map.of(
            "generate", new String[] {"Once"},
            "chat", new String[] {"--model", "m.gguf", "--prompt", "hi"},
            "serve", new String[] {},
            "bench", new String[] {"--model", "m.gguf"},
            "embed", new String[] {"--model", "dir", "text"},
            "classify", new String[] {"--model", "dir", "text"},
            "rerank", new String[] {"--model", "dir", "query", "document"});

    @Test
    void everyModelCommandTakesTheSameDeviceAndThreads() {
        CommandLine cli = new CommandLine(new Main());
        OptionSpec device = cli.getSubcommands().get("generate").getCommandSpec().findOption("--device");
        OptionSpec threads = cli.getSubcommands().get("generate").getCommandSpec().findOption("--threads");
        assertEquals("auto", device.defaultValue());
        assertEquals("0", threads.defaultValue());
        for (String command : MODEL_COMMANDS.keySet()) {
            var spec = cli.getSubcommands().get(command).getCommandSpec();
            for (OptionSpec want : new OptionSpec[] {device, threads}) {
                OptionSpec got = spec.findOption(want.longestName());
                assertNotNull(got, command + " has no " + want.longestName());
                assertEquals(want.defaultValue(), got.defaultValue(), command + " " + want.longestName());
                assertArrayEquals(want.description(), got.description(), command + " " + want.longestName());
            }
        }
    }

    @Test
    void everyModelCommandNamesTheValidDevices() {
        for (Map.Entry<String, String[]> c : MODEL_COMMANDS.entrySet()) {
            String[] args = new String[c.getValue().length + 3];
            args[0] = c.getKey();
            args[1] = "--device";
            args[2] = "tpu";
            System.arraycopy(c.getValue(), 0, args, 3, c.getValue().length);
            assertOneLineError(run(args), 2, "tpu", "cuda-emu");
        }
    }
}
