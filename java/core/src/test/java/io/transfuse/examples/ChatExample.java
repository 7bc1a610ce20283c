package io.transfuse.examples;

import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.Transfuse;
import io.transfuse.SamplingOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A two-turn chat through the public API (the README's chat example; ChatExampleTest runs it so
 * that it keeps compiling and working). Usage: {@code ChatExample MODEL.gguf}, a model whose
 * files carry a chat template (any instruct GGUF from llama.cpp's tools does).
 */
public final class ChatExample {
    private ChatExample() {}

    public static void main(String[] args) {
        List<ChatMessage> history = run(Path.of(args[0]), "What is the capital of France?", "And of Italy?");
        System.out.println(history.size() + " messages");
    }

    /** Asks each question in turn, keeping the replies in the history, and returns the conversation. */
    public static List<ChatMessage> run(Path model, String... questions) {
        List<ChatMessage> history = new ArrayList<>();
        history.add(ChatMessage.system("You answer in one sentence."));
        GenerateOptions options = GenerateOptions.defaults().withMaxTokens(64).withSampling(SamplingOptions.greedy());
        try (LanguageModel lm = Transfuse.load(model)) {
            for (String question : questions) {
                history.add(ChatMessage.user(question));
                GenerationResult reply = lm.chat(history, options, System.out::print); // stops at <|eot_id|>, <|im_end|>, ...
                System.out.println();
                history.add(ChatMessage.assistant(reply.text()));
            }
        }
        return history;
    }
}
