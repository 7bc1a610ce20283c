package io.transfuse.langchain4j.examples;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.transfuse.LoadOptions;
import io.transfuse.langchain4j.TransfuseChatModel;
import io.transfuse.langchain4j.TransfuseEmbeddingModel;

import java.nio.file.Path;
import java.util.List;

/** The README's langchain4j snippet, kept compiling (run it with a chat model and an encoder directory as arguments). */
public final class Langchain4jExample {
    public static void main(String[] args) {
        try (TransfuseChatModel chat = TransfuseChatModel.builder()
                .modelPath(Path.of(args[0]))
                .loadOptions(LoadOptions.defaults().withMaxSequences(16))
                .build();
             TransfuseEmbeddingModel embeddings = TransfuseEmbeddingModel.builder().modelPath(Path.of(args[1])).build()) {
            String answer = chat.chat("What is the capital of France?");
            ChatResponse r = chat.chat(ChatRequest.builder()
                    .messages(SystemMessage.from("Answer in one word."), UserMessage.from("Capital of Italy?"))
                    .maxOutputTokens(16).temperature(0.7).build());
            List<Embedding> vectors = embeddings.embedAll(List.of(TextSegment.from("Hello world"))).content();
            System.out.println(answer + "\n" + r.aiMessage().text() + "\n" + vectors.get(0).dimension());
        }
    }
}
