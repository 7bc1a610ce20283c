package io.transfuse.model.seq2seq;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.Seq2SeqOptions;
import io.transfuse.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder-decoder references of test resources seq2seq/ (made by make_seq2seq_fixture.py there, a plain float64 torch
 * implementation of T5, BART and Marian; command in its docstring): t5-tiny (ReLU, tied), t5-gated-tiny (gated-GELU,
 * untied head), bart-tiny, marian-tiny, each with &lt;name&gt;-reference.json holding per source the encoder output, the
 * raw logits of every greedy step and the greedy output. {@link #check} runs them all on one device.
 */
public final class Seq2SeqFixture {
    public static final List<String> MODELS = List.of("t5-tiny", "t5-gated-tiny", "bart-tiny", "marian-tiny");

    private Seq2SeqFixture() {}

    /** One source's reference. */
    public record Case(int[] source, float[] encoderOutput, float[][] stepLogits, int[] greedy) {}

    /** A copy of model directory {@code name} in {@code dir}, read through the class loader (works from a test jar too). */
    public static Path copyModel(String name, Path dir) {
        try {
            Path to = Files.createDirectories(dir.resolve(name));
            for (String f : new String[] {"config.json", "model.safetensors"}) {
                try (InputStream in = Seq2SeqFixture.class.getResourceAsStream("/seq2seq/" + name + "/" + f)) {
                    if (in == null) throw new IllegalStateException("test resource seq2seq/" + name + "/" + f + " is missing");
                    Files.copy(in, to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static List<Case> cases(String name) {
        try (InputStream in = Seq2SeqFixture.class.getResourceAsStream("/seq2seq/" + name + "-reference.json")) {
            if (in == null) throw new IllegalStateException("test resource seq2seq/" + name + "-reference.json is missing");
            JsonNode root = new ObjectMapper().readTree(in);
            List<Case> out = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                JsonNode steps = c.get("step_logits");
                float[][] logits = new float[steps.size()][];
                for (int s = 0; s < logits.length; s++) logits[s] = floats(steps.get(s));
                out.add(new Case(ints(c.get("source")), floats(c.get("encoder_output")), logits, ints(c.get("greedy"))));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = a.get(i).intValue();
        return v;
    }

    private static float[] floats(JsonNode a) {
        float[] v = new float[a.size()];
        for (int i = 0; i < v.length; i++) v[i] = (float) a.get(i).doubleValue();
        return v;
    }

    /** Small limits: every fixture source fits one pass, the targets 9 tokens. */
    public static final Seq2SeqLimits LIMITS = new Seq2SeqLimits(4, 64, 4, 12);

    /**
     * Checks model {@code name} on {@code device} against the reference, each source alone and all together (batched):
     * encoder output and every step's logits within {@code absTol + relTol * max|reference|} of each vector, the same
     * greedy output; a fork (two rows continuing one parent) gives the parent's continuation twice. Returns the worst
     * error relative to each vector's largest reference value.
     */
    public static double check(Path model, String name, Device device, double absTol, double relTol) {
        List<Case> cases = cases(name);
        double worst = 0;
        try (Seq2SeqRunner m = Seq2SeqRunner.load(model, LoadOptions.defaults().withDevice(device), LIMITS)) {
            Seq2SeqGraph g = m.graph();
            int maxNew = cases.getFirst().stepLogits().length;
            // each source alone: encoder output, teacher-forced steps along the reference's greedy path
            for (int k = 0; k < cases.size(); k++) {
                Case c = cases.get(k);
                g.encode(List.of(c.source()));
                worst = Math.max(worst, compare(name + " case " + k + " encoder output", read(g, g.encoderOutput(0)), c.encoderOutput(), absTol, relTol));
                g.startRows(new int[] {0}, maxNew + 1);
                int token = m.config().decoderStartId();
                for (int s = 0; s < c.stepLogits().length; s++) {
                    float[] got = g.step(new int[] {0}, new int[] {0}, new int[] {token})[0];
                    worst = Math.max(worst, compare(name + " case " + k + " step " + s, got, c.stepLogits()[s], absTol, relTol));
                    token = c.greedy()[s];
                }
            }
            // all sources in one batch, teacher-forced; rows drop out as their reference ends
            List<int[]> sources = cases.stream().map(Case::source).toList();
            g.encode(sources);
            g.startRows(new int[] {0, 1, 2}, maxNew + 1);
            int[] last = {m.config().decoderStartId(), m.config().decoderStartId(), m.config().decoderStartId()};
            for (int s = 0; s < maxNew; s++) {
                List<Integer> rows = new ArrayList<>();
                for (int r = 0; r < cases.size(); r++) if (s < cases.get(r).stepLogits().length) rows.add(r);
                if (rows.isEmpty()) break;
                int[] rs = rows.stream().mapToInt(Integer::intValue).toArray(), toks = new int[rs.length];
                for (int i = 0; i < rs.length; i++) toks[i] = last[rs[i]];
                float[][] got = g.step(rs, rs, toks);
                for (int i = 0; i < rs.length; i++) {
                    Case c = cases.get(rs[i]);
                    worst = Math.max(worst, compare(name + " batched row " + rs[i] + " step " + s, got[i], c.stepLogits()[s], absTol, relTol));
                    last[rs[i]] = c.greedy()[s];
                }
            }
            // a fork: rows 0 and 1 both continue row 0's history (as a beam search keeping one hypothesis twice)
            Case c0 = cases.getFirst();
            g.encode(List.of(c0.source()));
            g.startRows(new int[] {0, 0}, maxNew + 1);
            g.step(new int[] {0}, new int[] {0}, new int[] {m.config().decoderStartId()});
            float[][] forked = g.step(new int[] {0, 1}, new int[] {0, 0}, new int[] {c0.greedy()[0], c0.greedy()[0]});
            float[][] again = g.step(new int[] {1, 0}, new int[] {1, 0}, new int[] {c0.greedy()[1], c0.greedy()[1]});
            worst = Math.max(worst, compare(name + " forked row 0", forked[0], c0.stepLogits()[1], absTol, relTol));
            worst = Math.max(worst, compare(name + " forked row 1", forked[1], c0.stepLogits()[1], absTol, relTol));
            worst = Math.max(worst, compare(name + " forked row 1, next step", again[0], c0.stepLogits()[2], absTol, relTol));
            worst = Math.max(worst, compare(name + " forked row 0, next step", again[1], c0.stepLogits()[2], absTol, relTol));
            // greedy generation, alone and batched
            List<int[]> batched = m.generateIds(sources, new Seq2SeqOptions(maxNew));
            for (int k = 0; k < cases.size(); k++) {
                int[] alone = m.generateIds(List.of(sources.get(k)), new Seq2SeqOptions(maxNew)).getFirst();
                assertArrayEquals(cases.get(k).greedy(), alone, name + " case " + k + ": greedy output alone");
                assertArrayEquals(cases.get(k).greedy(), batched.get(k), name + " case " + k + ": greedy output batched");
            }
        }
        return worst;
    }

    private static float[] read(Seq2SeqGraph g, Tensor t) {
        float[] v = new float[Math.toIntExact(t.elementCount())];
        g.backend().read(t, v, 0, v.length);
        return v;
    }

    private static double compare(String what, float[] got, float[] want, double absTol, double relTol) {
        assertTrue(got.length == want.length, what + ": " + got.length + " values, want " + want.length);
        double scale = 0;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        double tol = absTol + relTol * scale;
        double worst = 0;
        int at = 0;
        for (int i = 0; i < got.length; i++) {
            double e = Math.abs(got[i] - want[i]);
            if (!(e <= worst)) { worst = e; at = i; }
        }
        double w = worst;
        int a = at;
        assertTrue(w <= tol, () -> what + ": worst error " + w + " at " + a + " (got " + got[a] + ", want " + want[a] + "; tolerance "
                + tol + ")");
        return worst / scale;
    }
}
