package io.transfuse;

import java.util.Locale;

/** Where a model runs. {@code AUTO} picks the best available (today: the CPU). */
public enum Device {
    AUTO, CPU;

    /** Parses a device name as given on the command line ("auto", "cpu"), naming the valid ones on error. */
    public static Device parse(String name) {
        for (Device d : values()) {
            if (d.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(name)) return d;
        }
        throw new IllegalArgumentException("unknown device '" + name + "' (valid: auto, cpu)");
    }
}
