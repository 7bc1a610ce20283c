package io.transfuse.loader;

import io.transfuse.tensor.Tensor;

import java.nio.file.Path;
import java.util.Arrays;
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

    /** The tensor called {@code name}, checked to have {@code shape}; errors name the tensor, its shape and the expected one. */
    default Tensor tensor(String name, long... shape) {
        Tensor t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new ModelFormatException(path() + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + " but the model config implies " + Arrays.toString(shape));
        }
        return t;
    }
}
