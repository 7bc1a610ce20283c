package io.transfuse.cli;

import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.chat.ChatTemplate;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code transfuse chat}: talks with a model through its chat template. With {@code --prompt}
 * (repeatable: each one is a user turn, answered before the next, all in one conversation) or
 * with stdin not a terminal (all of stdin is one user turn), it prints the replies and exits;
 * on a terminal it is a REPL with line editing and history (JLine). Replies stream to stdout;
 * statistics go to stderr.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chats with an instruction-tuned model through its chat template (interactive on a terminal, "
                + "one-shot with --prompt or piped stdin).")
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Option(names = "--model", paramLabel = "PATH", required = true,
            description = "GGUF file or Hugging Face directory with a chat template (tokenizer.chat_template / tokenizer_config.json).")
    Path model;

    @Option(names = "--system", paramLabel = "TEXT", description = "System message opening the conversation.")
    String system;

    @Option(names = "--prompt", paramLabel = "TEXT",
            description = "A user turn; repeat for several turns (each answered in turn). Without it, stdin is read.")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template to use instead of the model's.")
    Path chatTemplate;

    @Option(names = "--show-prompt", description = "Print each rendered prompt to stderr before the reply.")
    boolean showPrompt;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "512", description = "Most new tokens per reply (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Mixin
    SamplingFlags sampling;

    @Option(names = "--context", paramLabel = "N", defaultValue = "0",
            description = "Context length in tokens (prompt and reply); 0 = 4096, or the model's maximum when smaller (default: ${DEFAULT-VALUE}).")
    int context;

    /** Where piped input comes from; tests replace it. */
    static InputStream stdin = System.in;

    @Override
    public Integer call() throws IOException {
        GenerateOptions options = new GenerateOptions(maxTokens, sampling.options());
        if (context < 0) throw new IllegalArgumentException("--context must be >= 0, got " + context);
        LoadOptions load = where.loadOptions().withContextLength(context);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean interactive = prompts.isEmpty() && System.console() != null && System.console().isTerminal() && stdin == System.in;
        List<String> turns = new ArrayList<>(prompts);
        if (prompts.isEmpty() && !interactive) {
            String text = new String(stdin.readAllBytes(), StandardCharsets.UTF_8).strip();
            if (text.isEmpty()) throw new IllegalArgumentException("no prompt: give --prompt TEXT or pipe the message on stdin");
            turns.add(text);
        }
        try (LanguageModel lm = Transfuse.load(model, load)) {
            ChatTemplate template = chatTemplate != null ? fromFile(chatTemplate, lm)
                    : lm.chatTemplate().orElseThrow(() -> new TransfuseException(lm.source() + ": the model has no chat template "
                    + "(no tokenizer.chat_template in a GGUF file, no chat_template in tokenizer_config.json); give one with --chat-template FILE"));
            Conversation conversation = new Conversation(lm, template, options, out, err);
            if (system != null) conversation.history.add(ChatMessage.system(system));
            if (!interactive) {
                for (String turn : turns) conversation.reply(turn);
                return 0;
            }
            repl(conversation, out);
        }
        return 0;
    }

    private static ChatTemplate fromFile(Path file, LanguageModel lm) throws IOException {
        // bos_token / eos_token: the texts of the tokenizer's BOS and EOS ids.
        String bos = lm.tokenizer().bos() >= 0 ? lm.tokenizer().tokenText(lm.tokenizer().bos()) : null;
        String eos = lm.tokenizer().eos() >= 0 ? lm.tokenizer().tokenText(lm.tokenizer().eos()) : null;
        return new ChatTemplate(Files.readString(file, StandardCharsets.UTF_8), file.toString(), bos, eos);
    }

    /** The conversation so far and how to extend it by one exchange. */
    private final class Conversation {
        final List<ChatMessage> history = new ArrayList<>();
        final LanguageModel lm;
        final ChatTemplate template;
        final GenerateOptions options;
        final PrintWriter out, err;

        Conversation(LanguageModel lm, ChatTemplate template, GenerateOptions options, PrintWriter out, PrintWriter err) {
            this.lm = lm;
            this.template = template;
            this.options = options;
            this.out = out;
            this.err = err;
        }

        /** Adds the user's turn, streams the reply, and keeps both in the history (the turn is dropped again if it fails). */
        void reply(String userText) {
            history.add(ChatMessage.user(userText));
            try {
                if (showPrompt) {
                    err.println("--- prompt ---");
                    err.println(template.render(history, true));
                    err.println("--- end of prompt ---");
                }
                GenerationResult r = lm.chat(template, history, options, piece -> {
                    out.print(piece);
                    out.flush();
                });
                out.println();
                out.flush();
                history.add(ChatMessage.assistant(r.text()));
                err.printf(Locale.ROOT, "[prompt: %d tokens, %.1f tok/s; reply: %d tokens, %.1f tok/s (%s)]%n",
                        r.promptTokens(), r.prefillTokensPerSecond(), r.generatedTokens(), r.decodeTokensPerSecond(),
                        r.stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' '));
                err.flush();
            } catch (RuntimeException e) {
                history.removeLast();
                throw e;
            }
        }
    }

    /** Reads turns from the terminal until EOF (Ctrl-D) or /exit; /reset forgets the conversation (keeps --system). */
    private void repl(Conversation conversation, PrintWriter out) throws IOException {
        try (Terminal terminal = TerminalBuilder.builder().system(true).build()) {
            LineReader reader = LineReaderBuilder.builder().terminal(terminal).appName("transfuse").build();
            out.println("Chatting with " + conversation.lm.source() + ". /reset forgets the conversation, /exit or Ctrl-D quits.");
            out.flush();
            while (true) {
                String line;
                try {
                    line = reader.readLine("> ");
                } catch (UserInterruptException e) {
                    continue; // Ctrl-C clears the line
                } catch (EndOfFileException e) {
                    return;
                }
                String text = line.strip();
                if (text.isEmpty()) continue;
                if (text.equals("/exit") || text.equals("/quit")) return;
                if (text.equals("/reset")) {
                    conversation.history.removeIf(m -> !m.role().equals("system"));
                    continue;
                }
                try {
                    conversation.reply(text);
                } catch (TransfuseException e) {
                    conversation.err.println("transfuse: " + e.getMessage());
                    conversation.err.flush();
                }
            }
        }
    }
}
