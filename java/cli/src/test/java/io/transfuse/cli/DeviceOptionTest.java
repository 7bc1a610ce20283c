package io.transfuse.cli;

import io.transfuse.cuda.jcuda.GpuProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static io.transfuse.cli.MainTest.assertOneLineError;
import static io.transfuse.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** {@code generate --device}: cuda-emu prints what cpu prints; cuda without a GPU fails in one line. */
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
}
