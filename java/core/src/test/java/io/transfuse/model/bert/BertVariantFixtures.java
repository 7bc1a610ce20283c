package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.Device;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.backend.Backends;
import io.transfuse.loader.ModelSource;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.EncoderFamily;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MobileBERT, ModernBERT, nomic-bert and JinaBERT fixtures of {@code src/test/resources/bertx} (random weights in each
 * checkpoint's layout, written with the last hidden states of a plain PyTorch reference by make_bertx_fixtures.py, whose
 * docstring gives the command), unpacked into a model directory with the MiniLM WordPiece tokenizer cut to the fixtures'
 * 2100-row vocabulary, and compared on a device: all reference sequences in one packed batch, and each alone.
 */
public final class BertVariantFixtures {
    /** The fixture directories. */
    public static final List<String> NAMES = List.of("mobilebert", "mobilebert-variant", "modernbert", "nomic", "jina");

    private BertVariantFixtures() {}

    /** Copies fixture {@code name} (config.json, model.safetensors) into {@code dir} with a tokenizer.json; returns dir. */
    public static Path unpack(String name, Path dir) {
        try {
            Files.createDirectories(dir);
            for (String f : List.of("config.json", "model.safetensors")) {
                try (InputStream in = BertVariantFixtures.class.getResourceAsStream("/bertx/" + name + "/" + f)) {
                    if (in == null) throw new IllegalStateException("fixture /bertx/" + name + "/" + f + " is missing");
                    Files.write(dir.resolve(f), in.readAllBytes());
                }
            }
            Files.write(dir.resolve("tokenizer.json"), tokenizer(2100));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** MiniLM's tokenizer.json with the WordPiece vocabulary cut to ids below {@code rows} (the rest become [UNK]). */
    static byte[] tokenizer(int rows) throws IOException {
        byte[] json;
        try (InputStream in = new GZIPInputStream(BertVariantFixtures.class.getResourceAsStream("/tokenizers/all-minilm-l6-v2-tokenizer.json.gz"))) {
            json = in.readAllBytes();
        }
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = (ObjectNode) mapper.readTree(json);
        ObjectNode vocab = (ObjectNode) root.path("model").path("vocab");
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            if (it.next().getValue().asInt() >= rows) it.remove();
        }
        root.remove("padding");
        return mapper.writeValueAsBytes(root);
    }

    /** The reference: token ids, type ids and hidden states per sequence. */
    public record Reference(int[][] ids, int[][] types, double[][][] hidden) {
        public static Reference read(String name) {
            try (InputStream in = BertVariantFixtures.class.getResourceAsStream("/bertx/" + name + "/reference.json")) {
                JsonNode r = new ObjectMapper().readTree(in);
                int n = r.path("ids").size();
                int[][] ids = new int[n][], types = new int[n][];
                double[][][] hidden = new double[n][][];
                for (int s = 0; s < n; s++) {
                    ids[s] = ints(r.path("ids").get(s));
                    types[s] = ints(r.path("type_ids").get(s));
                    JsonNode rows = r.path("hidden").get(s);
                    hidden[s] = new double[rows.size()][];
                    for (int t = 0; t < rows.size(); t++) {
                        JsonNode row = rows.get(t);
                        hidden[s][t] = new double[row.size()];
                        for (int d = 0; d < row.size(); d++) hidden[s][t][d] = row.get(d).asDouble();
                    }
                }
                return new Reference(ids, types, hidden);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        private static int[] ints(JsonNode a) {
            int[] v = new int[a.size()];
            for (int i = 0; i < v.length; i++) v[i] = a.get(i).asInt();
            return v;
        }
    }

    /**
     * Runs fixture {@code name} on {@code device} over the reference sequences, packed together and one at a time, and
     * checks every token's hidden state: max |got - want| &lt;= {@code atol} max(1, max |want|) (MobileBERT's NoNorm leaves
     * states of size ~10; the others' are O(1) after their norms) and cosine &gt;= {@code minCos}. Returns the worst scaled error.
     */
    public static double check(String name, Path dir, Device device, double atol, double minCos) {
        Reference ref = Reference.read(name);
        double worst = 0;
        try (TrackedArena arena = new TrackedArena("fixture " + name)) {
            ModelSource source = ModelSource.open(dir, arena);
            EncoderFamily.Parts parts = new BertFamily().load(source, Backends.open(device, LoadOptions.defaults().withDevice(device)),
                    LoadOptions.defaults().withDevice(device), EncoderOptions.defaults().withBatchSize(ref.ids().length));
            try (var graph = parts.graph()) {
                int dim = graph.dimension();
                float[] all = graph.forward(ref.ids(), ref.types()).clone();
                int row = 0;
                for (int s = 0; s < ref.ids().length; s++) {
                    float[] alone = graph.forward(new int[][] {ref.ids()[s]}, new int[][] {ref.types()[s]});
                    for (int t = 0; t < ref.ids()[s].length; t++, row++) {
                        worst = Math.max(worst, compare(name + " sequence " + s + " token " + t + " (batched)", all, row * dim, ref.hidden()[s][t], atol, minCos));
                        worst = Math.max(worst, compare(name + " sequence " + s + " token " + t + " (alone)", alone, t * dim, ref.hidden()[s][t], atol, minCos));
                    }
                }
            }
        }
        return worst;
    }

    private static double compare(String what, float[] got, int at, double[] want, double atol, double minCos) {
        double dot = 0, ng = 0, nw = 0, err = 0, scale = 1;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int d = 0; d < want.length; d++) {
            double g = got[at + d];
            dot += g * want[d];
            ng += g * g;
            nw += want[d] * want[d];
            err = Math.max(err, Math.abs(g - want[d]));
        }
        double cos = dot / Math.sqrt(ng * nw);
        err /= scale;
        assertTrue(err <= atol && cos >= minCos, what + ": max error " + err + " of the state's largest value (budget " + atol + "), cosine "
                + cos + " (min " + minCos + ")");
        return err;
    }

    /** Texts for the embedding API (words the cut vocabulary knows, and some it does not). */
    public static final List<String> TEXTS = new ArrayList<>(List.of("the cat was in the house", "he is at the door",
            "Hello, world! 12345", "", "a b c d e f g h i j k l m n o p q r s t u v w x y z"));
}
