package io.transfuse.cli;

import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.function.Consumer;

/**
 * Progress of a long write (make-model, quantize) on stderr. On a terminal one line is rewritten in place
 * with {@code \r}; anywhere else (a file, a pipe, a test's writer) a {@code \r} would leave one long line of
 * overwritten text in a log, so each message is a plain line (one per tensor written: what a log should keep).
 */
final class Progress implements Consumer<String> {
    private final PrintWriter err;
    private final String prefix;
    private final boolean terminal;
    private boolean inPlace;

    private Progress(PrintWriter err, String prefix, boolean terminal) {
        this.err = err;
        this.prefix = prefix;
        this.terminal = terminal;
    }

    /** Progress lines on {@code err} starting with {@code prefix}; in place only when {@code err} is the process's stderr on a terminal. */
    static Progress on(PrintWriter err, String prefix) {
        return new Progress(err, prefix, err == Main.processErr && StderrTerminal.IS_TERMINAL);
    }

    @Override
    public void accept(String message) {
        if (terminal) {
            err.print("\r" + prefix + message + "\u001b[K"); // erase what a longer earlier message left on the line
            inPlace = true;
        } else {
            err.println(prefix + message);
        }
        err.flush();
    }

    /** Ends the in-place line (if one was drawn) so that what follows starts on a line of its own. */
    void finish() {
        if (inPlace) err.println();
        inPlace = false;
        err.flush();
    }

    /** Whether file descriptor 2 is a terminal (isatty(3) through Panama; false where that cannot be asked). */
    private static final class StderrTerminal {
        static final boolean IS_TERMINAL = isatty(2);

        private static boolean isatty(int fd) {
            try {
                Linker linker = Linker.nativeLinker();
                MethodHandle h = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                return (int) h.invokeExact(fd) == 1;
            } catch (Throwable t) {
                return false;
            }
        }
    }
}
