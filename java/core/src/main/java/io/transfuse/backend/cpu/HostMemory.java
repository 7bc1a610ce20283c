package io.transfuse.backend.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The memory the CPU backend may plan its caches for: the machine's memory (MemTotal of /proc/meminfo), lowered by
 * a cgroup v2 limit (a container's memory.max) and by the system property {@value #LIMIT_PROPERTY} (bytes, or with a
 * k/m/g suffix). The KV cache is committed lazily, as sequences fill it, so the whole pool is compared with what the
 * machine holds, not with what is free at load.
 */
public final class HostMemory {
    /** System property that caps the memory the CPU backend plans for (e.g. {@code 8g}). */
    public static final String LIMIT_PROPERTY = "transfuse.cpu.memoryLimit";

    private HostMemory() {}

    /** The limit in bytes (Long.MAX_VALUE when nothing states one). */
    public static long limit() {
        long limit = Math.min(memTotal(), cgroupLimit());
        String p = System.getProperty(LIMIT_PROPERTY);
        if (p != null && !p.isBlank()) limit = Math.min(limit, parseBytes(p.trim()));
        return limit;
    }

    /** "123", "64k", "512m", "8g" (binary units) as bytes. */
    static long parseBytes(String s) {
        String t = s.toLowerCase(Locale.ROOT);
        int shift = switch (t.charAt(t.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        try {
            long v = Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1));
            if (v <= 0) throw new NumberFormatException();
            return v > (Long.MAX_VALUE >> shift) ? Long.MAX_VALUE : v << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + LIMIT_PROPERTY + " must be a positive number of bytes (suffix k, m, g or t allowed), got '" + s + "'");
        }
    }

    private static long memTotal() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux, or /proc not mounted: no limit known
        }
        return Long.MAX_VALUE;
    }

    private static long cgroupLimit() {
        try {
            String v = Files.readString(Path.of("/sys/fs/cgroup/memory.max")).trim();
            return v.equals("max") ? Long.MAX_VALUE : Long.parseLong(v);
        } catch (IOException | RuntimeException ignored) {
            return Long.MAX_VALUE; // no cgroup v2 limit
        }
    }
}
