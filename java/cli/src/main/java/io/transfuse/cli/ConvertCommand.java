package io.transfuse.cli;

import io.transfuse.model.bert.EncoderConverter;
import io.transfuse.model.bert.Pooling;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code transfuse convert MODEL.onnx OUTDIR}: an ONNX BERT-family export to a Hugging Face directory. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Converts an ONNX export of a BERT-family encoder (tokenizer.json beside it) into a Hugging Face "
                + "directory: config.json, model.safetensors, tokenizer.json, sentence-transformers pooling config.")
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX file.")
    Path onnx;

    @Parameters(index = "1", paramLabel = "OUTDIR", description = "Directory to write (created if missing).")
    Path outDir;

    @Option(names = "--pooling", paramLabel = "MODE", defaultValue = "mean",
            description = "Pooling recorded in the output's sentence-transformers config: mean or cls (default: ${DEFAULT-VALUE}).")
    String pooling;

    @Override
    public Integer call() {
        if (!onnx.getFileName().toString().endsWith(".onnx")) throw new IllegalArgumentException(onnx + ": expected an .onnx file");
        EncoderConverter.convert(onnx, outDir, new Pooling(Pooling.Mode.valueOf(EmbedCommand.parsePooling(pooling).name()), true), s -> { });
        spec.commandLine().getErr().println("wrote " + outDir);
        return 0;
    }
}
