package io.transfuse.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the bundled model is: under {@code -Dtransfuse.home} (set by the launcher); else {@code models/stories260K}
 * of the working directory when it has one; else of the repository this jar was built in
 * ({@code java -jar java/cli/target/transfuse-cli.jar} run from another directory); else the working directory's,
 * so the error names the path a user would expect.
 */
final class ModelHome {
    private static final Path BUNDLED = Path.of("models", "stories260K");

    private ModelHome() {}

    static Path defaultModel() {
        String home = System.getProperty("transfuse.home");
        if (home != null) return Path.of(home).resolve(BUNDLED);
        Path local = Path.of(".").resolve(BUNDLED);
        if (Files.isDirectory(local)) return local;
        Path repository = repositoryOfJar();
        if (repository != null && Files.isDirectory(repository.resolve(BUNDLED))) return repository.resolve(BUNDLED);
        return local;
    }

    /** The repository root when this class runs from java/cli/target (its jar or classes), else null. */
    private static Path repositoryOfJar() {
        try {
            var source = ModelHome.class.getProtectionDomain().getCodeSource();
            if (source == null) return null;
            Path target = Path.of(source.getLocation().toURI()).toAbsolutePath().getParent(); // .../java/cli/target
            Path cli = target == null ? null : target.getParent();
            Path java = cli == null ? null : cli.getParent();
            return java == null ? null : java.getParent();
        } catch (URISyntaxException | IllegalArgumentException | SecurityException e) {
            return null;
        }
    }
}
