package io.transfuse.backend.cpu;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** TRANSFUSE_CPU_ISA picks the kernels at load time (checked in a child JVM, since it is read once). */
class CpuIsaEnvTest {

    /** Child JVM entry point: prints the instruction set in use. */
    public static final class Probe {
        public static void main(String[] args) {
            System.out.println("isa=" + CpuOps.isa());
        }
    }

    private static String run(String env) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        String nativePath = System.getProperty("transfuse.native.path");
        if (nativePath != null) cmd.add("-Dtransfuse.native.path=" + nativePath);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Probe.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("TRANSFUSE_CPU_ISA", env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void environmentForcesTheInstructionSet() throws Exception {
        for (CpuOps.Isa isa : CpuTestSupport.supportedIsas()) {
            String out = run(isa.name().toLowerCase());
            assertTrue(out.contains("isa=" + isa), out);
        }
        String out = run("no-such-isa");
        assertTrue(out.contains("isa=" + CpuOps.bestIsa()), out);
        assertTrue(out.contains("TRANSFUSE_CPU_ISA"), "warns: " + out);
    }
}
