package io.transfuse.cli;

import java.nio.file.Path;

/** Where the bundled models are: {@code -Dtransfuse.home} (set by the launcher), else the working directory. */
final class ModelHome {
    private ModelHome() {}

    static Path defaultModel() {
        String home = System.getProperty("transfuse.home", ".");
        return Path.of(home, "models", "stories260K");
    }
}
