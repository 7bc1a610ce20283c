package io.transfuse.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default model without the launcher ({@code java -jar java/cli/target/transfuse-cli.jar} from any directory):
 * the tests run in java/cli, which has no models/ folder, so only the repository found from the jar's (here the
 * classes') location gives the bundled model.
 */
class ModelHomeTest {
    @Test
    void withoutTransfuseHomeTheBundledModelIsFoundFromTheJarsLocation() throws Exception {
        Path root = Path.of(System.getProperty("transfuse.root")).toAbsolutePath().normalize();
        assertFalse(Files.exists(Path.of("models", "stories260K")), "the test expects a working directory without models/");
        String saved = System.clearProperty("transfuse.home");
        try {
            Path model = ModelHome.defaultModel();
            assertTrue(Files.isDirectory(model), model.toString());
            assertEquals(root.resolve("models/stories260K"), model.toAbsolutePath().normalize());
        } finally {
            if (saved != null) System.setProperty("transfuse.home", saved);
        }
    }

    @Test
    void transfuseHomeWins() {
        String saved = System.setProperty("transfuse.home", "/some/where");
        try {
            assertEquals(Path.of("/some/where/models/stories260K"), ModelHome.defaultModel());
        } finally {
            if (saved != null) System.setProperty("transfuse.home", saved);
            else System.clearProperty("transfuse.home");
        }
    }
}
