package io.transfuse.cli;

import io.transfuse.TransfuseException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** The {@code transfuse} command. Errors print one line naming the fault and exit non-zero. */
@Command(name = "transfuse", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Runs transformer-family models on the CPU and on NVIDIA GPUs.",
        subcommands = {GenerateCommand.class, ChatCommand.class, ServeCommand.class, InfoCommand.class, EmbedCommand.class, ClassifyCommand.class, RerankCommand.class, ConvertCommand.class,
                MakeModelCommand.class, QuantizeCommand.class, BenchCommand.class, DetectCommand.class,
                TranslateCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    /** The writer over the process's stderr (null until {@link #main} runs): {@link Progress} draws in place only on it. */
    static volatile PrintWriter processErr;

    public static void main(String[] args) {
        PrintWriter err = new PrintWriter(System.err, true);
        processErr = err;
        System.exit(run(args, new PrintWriter(System.out, true), err));
    }

    /** Runs the CLI with the given streams; returns the exit code (0 ok, 1 runtime error, 2 usage error). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((e, a) -> {
            err.println("transfuse: " + e.getMessage() + " (see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        cli.setExecutionExceptionHandler((e, c, parsed) -> {
            String message = e instanceof TransfuseException || e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    ? e.getMessage() : e.toString();
            err.println("transfuse: " + message);
            return e instanceof IllegalArgumentException ? 2 : 1;
        });
        return cli.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"transfuse " + (v == null ? "dev" : v)};
        }
    }
}
