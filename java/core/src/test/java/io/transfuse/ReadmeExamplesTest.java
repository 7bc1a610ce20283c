package io.transfuse;

import org.junit.jupiter.api.Test;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's Java examples of the core API compile against it (the adapters' and the OpenAI SDK's examples
 * need their frameworks and are left to those modules' tests). Each block becomes the body of a method whose
 * parameters are the names the block uses without declaring them ({@code model}, {@code queue}).
 */
class ReadmeExamplesTest {
    /** Blocks that need another module's or library's classes. */
    private static final List<String> OTHER_MODULES = List.of("OpenAIClient", "TransfuseChatModel", "TransfuseEmbeddingModel",
            "ChatClient", "@Configuration",
            "SparkSession");

    @Test
    void coreExamplesCompile() throws IOException {
        String readme = Files.readString(TestModels.root().resolve("README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        StringBuilder methods = new StringBuilder();
        int examples = 0;
        while (m.find()) {
            String block = m.group(1);
            if (OTHER_MODULES.stream().anyMatch(block::contains)) continue;
            List<String> params = new ArrayList<>();
            if (block.matches("(?s).*\\bmodel\\b.*") && !block.contains("LanguageModel model =")) params.add("LanguageModel model");
            if (block.contains("queue")) params.add("BlockingQueue<String> queue");
            methods.append("    static void example").append(examples++).append("(").append(String.join(", ", params))
                    .append(") throws Exception {\n").append(block).append("    }\n\n");
        }
        assertTrue(examples >= 4, "found " + examples + " core examples in the README");
        String source = """
                import io.transfuse.*;
                import io.transfuse.engine.*;
                import java.nio.file.Path;
                import java.time.Duration;
                import java.util.*;
                import java.util.concurrent.BlockingQueue;

                class ReadmeExamples {
                """ + methods + "}\n";
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        Path out = Files.createTempDirectory("readme-examples");
        JavaFileObject file = new SimpleJavaFileObject(URI.create("string:///ReadmeExamples.java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) { return source; }
        };
        boolean ok = javac.getTask(null, null, diagnostics, List.of("-classpath", System.getProperty("java.class.path"),
                "-d", out.toString(), "-proc:none"), null, List.of(file)).call();
        StringBuilder errors = new StringBuilder();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.ERROR) errors.append("line ").append(d.getLineNumber()).append(": ").append(d.getMessage(null)).append('\n');
        }
        assertTrue(ok, "README examples do not compile:\n" + errors + "\n" + source);
    }
}
