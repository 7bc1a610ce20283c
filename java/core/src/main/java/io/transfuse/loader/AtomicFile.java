package io.transfuse.loader;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that it is either complete or absent: a temporary file beside it, then an atomic move.
 * The temporary file is created as any new file is (mode 0666 less the umask, so usually 0644), not with
 * {@code Files.createTempFile}'s owner-only 0600: the move keeps its mode, and a model written for others
 * to read must be readable by them.
 */
final class AtomicFile {
    interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    private AtomicFile() {}

    static void write(Path path, Body body) {
        Path abs = path.toAbsolutePath();
        Path tmp = null;
        try {
            OutputStream out = null;
            while (out == null) {
                tmp = abs.resolveSibling("." + abs.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
                try {
                    out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException taken) {
                    tmp = null; // another writer's temporary name: draw again
                }
            }
            try (OutputStream o = out) {
                body.writeTo(o);
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + e, e);
        } finally {
            if (tmp != null) {
                try { Files.deleteIfExists(tmp); } catch (IOException ignored) { }
            }
        }
    }
}
