package io.transfuse.server;

/**
 * The client closed the connection: nothing more can be written to it. Thrown by the writers of a response
 * ({@link SseWriter}, {@link WholeAnswer}) so the caller can cancel the generation behind it.
 */
final class ClientGone extends Exception {
    ClientGone(Throwable cause) {
        super("the client closed the connection", cause);
    }

    /** Runs a write; a failure is the client gone (Helidon reports a closed socket with its own unchecked exceptions). */
    static void writing(IoAction write) throws ClientGone {
        try {
            write.run();
        } catch (java.io.IOException | RuntimeException e) {
            throw new ClientGone(e);
        }
    }

    interface IoAction {
        void run() throws java.io.IOException;
    }
}
