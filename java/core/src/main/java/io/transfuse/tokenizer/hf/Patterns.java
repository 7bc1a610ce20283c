package io.transfuse.tokenizer.hf;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Turns a tokenizer.json pattern ({@code {"String": ...}} or {@code {"Regex": ...}}) into a Java regex. */
final class Patterns {
    private Patterns() {}

    static Pattern of(Spec spec) {
        if (spec.isNull() || !spec.node().isObject()) throw spec.error("must be {\"String\": ...} or {\"Regex\": ...}");
        String literal = spec.string("String", null);
        if (literal != null) return Pattern.compile(Pattern.quote(literal));
        String regex = spec.string("Regex", null);
        if (regex == null) throw spec.error("must be {\"String\": ...} or {\"Regex\": ...}");
        try {
            // Oniguruma (what the Rust library uses) treats \s, \d, \w as Unicode classes.
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            throw spec.error("regex cannot be compiled: " + e.getDescription());
        }
    }
}
