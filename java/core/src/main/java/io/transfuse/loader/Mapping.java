package io.transfuse.loader;

import io.transfuse.memory.TrackedArena;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Memory-maps a whole model file read-only into an arena, with errors that name the file. */
final class Mapping {
    private Mapping() {}

    static MemorySegment map(Path path, TrackedArena arena) {
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file");
        if (!Files.isRegularFile(path)) throw new ModelFormatException(path + ": not a regular file");
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size == 0) throw new ModelFormatException(path + ": file is empty");
            return arena.map(channel, size);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(path + ": no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(path + ": cannot read (" + e.getMessage() + ")", e);
        }
    }
}
