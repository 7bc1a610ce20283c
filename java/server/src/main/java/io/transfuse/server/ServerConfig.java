package io.transfuse.server;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Where the server listens and what it calls its models.
 *
 * @param host             address to bind (127.0.0.1: this machine only)
 * @param port             TCP port (0: any free one; {@link OpenAiServer#port()} says which)
 * @param modelId          the generation model's id in /v1/models and responses; requests naming another get a 400
 * @param embeddingModelId the embedding model's id (null when none is served)
 * @param requestTimeout   deadline of each generation request (null: none); it ends with finish_reason "length"
 * @param embeddingBatch   texts the embedding engine joins into one batch at most
 */
public record ServerConfig(String host, int port, String modelId, String embeddingModelId, Duration requestTimeout, int embeddingBatch) {
    public ServerConfig {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        if (modelId == null || modelId.isBlank()) throw new IllegalArgumentException("model id must not be empty");
        if (requestTimeout != null && (requestTimeout.isNegative() || requestTimeout.isZero())) {
            throw new IllegalArgumentException("request timeout must be positive, got " + requestTimeout);
        }
        if (embeddingBatch < 1) throw new IllegalArgumentException("embedding batch must be >= 1, got " + embeddingBatch);
    }

    /** Loopback, the given port, no timeout, 64 texts per embedding batch. */
    public static ServerConfig loopback(int port, String modelId, String embeddingModelId) {
        return new ServerConfig("127.0.0.1", port, modelId, embeddingModelId, null, 64);
    }

    /** A model's id from its path: the file or directory name without a .gguf extension ("stories260K-f32"). */
    public static String idOf(Path model) {
        Path name = model.toAbsolutePath().normalize().getFileName();
        String s = name == null ? model.toString() : name.toString();
        return s.endsWith(".gguf") ? s.substring(0, s.length() - ".gguf".length()) : s;
    }
}
