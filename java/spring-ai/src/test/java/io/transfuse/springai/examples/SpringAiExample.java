package io.transfuse.springai.examples;

import io.transfuse.springai.TransfuseChatModel;
import io.transfuse.springai.TransfuseEmbeddingModel;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.prompt.ChatOptions;

import java.nio.file.Path;

/**
 * The README's Spring AI snippet, kept compiling without Spring Boot on the classpath: the two factory methods are
 * what the README's {@code @Configuration} class declares as beans. Run it with a chat model and an encoder directory.
 */
public final class SpringAiExample {
    static TransfuseChatModel chatModel(Path model) {
        return TransfuseChatModel.builder().modelPath(model).build();
    }

    static TransfuseEmbeddingModel embeddingModel(Path encoder) {
        return TransfuseEmbeddingModel.builder().modelPath(encoder).build();
    }

    public static void main(String[] args) {
        try (TransfuseChatModel chatModel = chatModel(Path.of(args[0])); TransfuseEmbeddingModel embeddingModel = embeddingModel(Path.of(args[1]))) {
            String answer = ChatClient.create(chatModel).prompt().system("Answer in one word.").user("Capital of France?")
                    .options(ChatOptions.builder().maxTokens(16)).call().content();
            float[] vector = embeddingModel.embed("Hello world");
            System.out.println(answer + "\n" + vector.length);
        }
    }
}
