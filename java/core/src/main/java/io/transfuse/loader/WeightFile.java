package io.transfuse.loader;

import io.transfuse.tensor.Tensor;

import java.nio.file.Path;
import java.util.Map;

/** A parsed weight file: its tensors by name, views into memory the caller's arena owns. */
public interface WeightFile {
    Path path();

    Map<String, Tensor> tensors();

    /** The tensor called {@code name}, or an error naming it and the file. */
    default Tensor tensor(String name) {
        Tensor t = tensors().get(name);
        if (t == null) throw new ModelFormatException(path() + ": tensor '" + name + "' is missing");
        return t;
    }
}
