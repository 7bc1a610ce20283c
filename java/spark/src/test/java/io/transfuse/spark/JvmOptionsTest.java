package io.transfuse.spark;

import io.transfuse.TestModels;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The JDK 25 options for Spark are written once (the pom property spark.jdk25.options, filtered into
 * spark-jvm-options.txt): this JVM, which ran the Spark tests, was started with each of them, and the README's Spark
 * section shows the same line, so what the README tells users is what the tests ran with.
 */
class JvmOptionsTest {
    static List<String> options() throws IOException {
        try (InputStream in = JvmOptionsTest.class.getResourceAsStream("/spark-jvm-options.txt")) {
            assertNotNull(in, "spark-jvm-options.txt is not on the test class path");
            String line = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
            assertFalse(line.contains("${"), "the pom property was not filtered in: " + line);
            return Arrays.asList(line.split("\\s+"));
        }
    }

    @Test
    void theTestsRanWithTheOptions() throws IOException {
        List<String> jvm = ManagementFactory.getRuntimeMXBean().getInputArguments();
        for (String option : options()) assertTrue(jvm.contains(option), option + " is not among this JVM's options " + jvm);
        assertTrue(jvm.contains("--enable-native-access=ALL-UNNAMED"), jvm.toString());
    }

    @Test
    void theReadmeShowsTheSameOptions() throws IOException {
        String readme = Files.readString(TestModels.root().resolve("README.md"));
        int spark = readme.indexOf("### Spark");
        assertTrue(spark >= 0, "README.md has no Spark section");
        assertTrue(readme.indexOf("\n" + String.join(" ", options()) + "\n", spark) > spark,
                "README's Spark section does not show the options line " + String.join(" ", options()));
    }
}
