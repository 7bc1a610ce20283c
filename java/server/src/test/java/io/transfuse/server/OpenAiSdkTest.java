package io.transfuse.server;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import io.transfuse.ChatMessage;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.engine.EngineOptions;
import io.transfuse.SamplingOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The official OpenAI Java SDK against the server: what it gets equals what the library gives directly
 * ({@code LanguageModel.generate}/{@code chat}, {@code EmbeddingModel.embed}), and errors arrive as the SDK's exceptions.
 */
class OpenAiSdkTest {
    static TestServer ts;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        ts = new TestServer(EngineOptions.defaults(), true);
        client = OpenAIOkHttpClient.builder().baseUrl(ts.base() + "/v1").apiKey("unused").maxRetries(0).build();
    }

    @AfterAll
    static void stop() throws Exception {
        client.close();
        ts.close();
    }

    @Test
    void greedyCompletionEqualsLanguageModelGenerate() {
        String prompt = "Once upon a time";
        GenerationResult expected = ts.model.generate(prompt, new GenerateOptions(40, SamplingOptions.greedy()), s -> {});
        Completion c = client.completions().create(CompletionCreateParams.builder()
                .model(TestServer.MODEL_ID).prompt(prompt).maxTokens(40).temperature(0.0).build());
        assertEquals(expected.text(), c.choices().getFirst().text());
        assertEquals(expected.stopReason() == GenerationResult.StopReason.MAX_TOKENS ? "length" : "stop",
                c.choices().getFirst().finishReason().asString());
        assertEquals(expected.promptTokens(), c.usage().orElseThrow().promptTokens());
        assertEquals(expected.generatedTokens(), c.usage().orElseThrow().completionTokens());
        assertEquals(TestServer.MODEL_ID, c.model());
    }

    @Test
    void streamedChatDeltasEqualTheWholeReply() {
        ChatCompletionCreateParams params = ChatCompletionCreateParams.builder().model(TestServer.MODEL_ID)
                .addSystemMessage("You tell short stories.").addUserMessage("Tell me about a cat.")
                .maxCompletionTokens(50).temperature(0.0).build();
        ChatCompletion whole = client.chat().completions().create(params);
        String content = whole.choices().getFirst().message().content().orElseThrow();
        GenerationResult direct = ts.model.chat(ts.template, List.of(ChatMessage.system("You tell short stories."),
                ChatMessage.user("Tell me about a cat.")), new GenerateOptions(50, SamplingOptions.greedy()), s -> {});
        assertEquals(direct.text(), content);
        assertFalse(content.isEmpty());
        assertEquals("length", whole.choices().getFirst().finishReason().asString());

        StringBuilder streamed = new StringBuilder();
        int chunks = 0;
        String finish = null;
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
            for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                chunks++;
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(streamed::append);
                    if (ch.finishReason().isPresent()) finish = ch.finishReason().get().asString();
                }
            }
        }
        assertEquals(content, streamed.toString());
        assertEquals("length", finish);
        assertTrue(chunks > 3, "the reply streamed in pieces: " + chunks + " chunks");
    }

    @Test
    void embeddingsEqualEmbeddingModelEmbed() {
        List<String> texts = List.of("a cat sat on the mat", "hello world", "the quick brown fox jumps over the lazy dog");
        float[][] expected = ts.encoder.embed(texts);
        for (EmbeddingCreateParams.EncodingFormat format : List.of(EmbeddingCreateParams.EncodingFormat.FLOAT,
                EmbeddingCreateParams.EncodingFormat.BASE64)) {
            CreateEmbeddingResponse r = client.embeddings().create(EmbeddingCreateParams.builder()
                    .model(TestServer.EMBEDDING_ID).inputOfArrayOfStrings(texts).encodingFormat(format).build());
            assertEquals(texts.size(), r.data().size());
            for (int i = 0; i < texts.size(); i++) {
                List<Float> got = r.data().get(i).embedding();
                assertEquals(expected[i].length, got.size(), format + " text " + i);
                for (int j = 0; j < got.size(); j++) assertEquals(expected[i][j], got.get(j), 1e-6, format + " text " + i + " dim " + j);
            }
            assertTrue(r.usage().promptTokens() > texts.size());
        }
    }

    @Test
    void unknownModelIsABadRequest() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("gpt-4o").prompt("hi").maxTokens(3).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().contains("gpt-4o"), e.getMessage());
        BadRequestException t = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model(TestServer.MODEL_ID).addUserMessage("hi").temperature(-1.0).build()));
        assertEquals(400, t.statusCode());
    }

    @Test
    void modelsListsBoth() {
        var ids = client.models().list().data().stream().map(m -> m.id()).toList();
        assertEquals(List.of(TestServer.MODEL_ID, TestServer.EMBEDDING_ID), ids);
    }
}
