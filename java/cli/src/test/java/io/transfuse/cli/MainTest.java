package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI as a user runs it: output on stdout, statistics on stderr, one-line errors and exit codes. */
class MainTest {
    static final Path ROOT = Path.of(System.getProperty("transfuse.root", "../..")).toAbsolutePath().normalize();

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void home() {
        System.setProperty("transfuse.home", ROOT.toString());
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static void assertOneLineError(Run r, int code, String... fragments) {
        assertEquals(code, r.code, r.err);
        assertEquals("", r.out);
        String line = r.err.strip();
        assertEquals(1, line.lines().count(), "expected one line, got:\n" + r.err);
        assertTrue(line.startsWith("transfuse: "), line);
        for (String f : fragments) assertTrue(line.contains(f), "'" + f + "' missing from: " + line);
    }

    @Test
    void greedyGenerationPrintsTheReferenceText() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(Files.readString(ROOT.resolve("models/stories260K/reference_outputs.json")));
        String full = ref.get("greedy_from_bos_200_steps").get("text").asText();
        Run r = run("generate", "--temperature", "0", "--max-tokens", "60", "Once upon a time");
        assertEquals(0, r.code, r.err);
        String printed = r.out.stripTrailing();
        assertTrue(printed.length() > 150 && full.startsWith(printed), "got: " + printed);
        assertTrue(r.err.contains("decode: 60 tokens") && r.err.contains("tok/s"), r.err);
    }

    /** With no sampling flag the CLI is greedy, as the API's defaults are: llama2.c's greedy text again. */
    @Test
    void theDefaultIsGreedyLikeTheApi() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(Files.readString(ROOT.resolve("models/stories260K/reference_outputs.json")));
        String full = ref.get("greedy_from_bos_200_steps").get("text").asText();
        Run r = run("generate", "--max-tokens", "60", "Once upon a time");
        assertEquals(0, r.code, r.err);
        String printed = r.out.stripTrailing();
        assertTrue(printed.length() > 150 && full.startsWith(printed), "got: " + printed);
        assertEquals(0, io.transfuse.GenerateOptions.defaults().sampling().temperature());
    }

    @Test
    void penaltyFlagsAreCheckedByName() {
        assertOneLineError(run("generate", "--min-p", "2", "hi"), 2, "--min-p");
        assertOneLineError(run("generate", "--repeat-penalty", "0", "hi"), 2, "--repeat-penalty");
        assertOneLineError(run("generate", "--repeat-last-n", "0", "hi"), 2, "--repeat-last-n");
    }

    @Test
    void seededSamplingIsReproducible() {
        Run a = run("generate", "--temperature", "0.9", "--top-k", "40", "--top-p", "0.9", "--seed", "7", "--max-tokens", "30", "Once");
        Run b = run("generate", "--temperature", "0.9", "--top-k", "40", "--top-p", "0.9", "--seed", "7", "--max-tokens", "30", "Once");
        assertEquals(0, a.code, a.err);
        assertEquals(a.out, b.out);
    }

    @Test
    void invalidOptionValues() {
        assertOneLineError(run("generate", "--temperature", "-1", "hi"), 2, "temperature");
        assertOneLineError(run("generate", "--top-p", "1.5", "hi"), 2, "top-p");
        assertOneLineError(run("generate", "--max-tokens", "many", "hi"), 2, "--max-tokens", "many");
        assertOneLineError(run("generate", "--device", "tpu", "hi"), 2, "tpu", "auto, cpu");
        assertOneLineError(run("generate", "--bogus", "hi"), 2, "--bogus");
        assertOneLineError(run("generate"), 2, "PROMPT");
    }

    /** stories260K holds 512 positions: the over-long prompt is refused before a character of it is echoed. */
    @Test
    void promptLongerThanTheContextFailsBeforeEchoingIt() {
        String prompt = "Once upon a time there was a little girl who liked to play in the park. ".repeat(60);
        Run r = run("generate", "--max-tokens", "4", prompt);
        assertOneLineError(r, 1, "the prompt is ", " tokens but the context of ", "holds 512", "at most 511 tokens", "--model");
        int tokens = Integer.parseInt(r.err().replaceAll("(?s).*the prompt is (\\d+) tokens.*", "$1"));
        assertTrue(tokens > 512, r.err());
        // One token short of the limit still generates.
        Run fits = run("generate", "--max-tokens", "2", "--temperature", "0", prompt.substring(0, prompt.length() * 500 / tokens));
        assertEquals(0, fits.code(), fits.err());
    }

    @Test
    void missingModelFile() {
        assertOneLineError(run("generate", "--model", "/nonexistent/model.gguf", "hi"), 1, "/nonexistent/model.gguf", "no such file");
    }

    @Test
    void helpOnEveryCommand() {
        Run top = run("--help");
        assertEquals(0, top.code);
        assertTrue(top.out.contains("generate"), top.out);
        Run gen = run("generate", "--help");
        assertEquals(0, gen.code);
        for (String o : new String[] {"--model", "--device", "--max-tokens", "--temperature", "--top-k", "--top-p", "--seed"}) {
            assertTrue(gen.out.contains(o), o + " missing from help");
        }
    }
}
