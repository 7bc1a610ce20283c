package io.transfuse.backend;

/** Double-precision functions the JDK lacks, for the plain-Java references of the tests. */
public final class ReferenceMath {
    private ReferenceMath() {}

    /**
     * erf(x) from the series erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
     * (Abramowitz & Stegun 7.1.6): every term has the sign of x, so there is no cancellation and the
     * sum is accurate to double precision for any |x| (it needs about x^2 + 40 terms).
     */
    public static double erf(double x) {
        if (Math.abs(x) > 6) return Math.signum(x); // 1 - erf(6) < 3e-17
        double term = x, sum = x;
        for (int n = 1; n < 400; n++) {
            term *= 2 * x * x / (2 * n + 1);
            sum += term;
            if (Math.abs(term) < 1e-18 * Math.abs(sum)) break;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x * x) * sum;
    }

    /** GELU, erf form: x * (1 + erf(x / sqrt 2)) / 2. */
    public static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** The activation of x as transfuse.h defines it (section 0), in double. */
    public static double activate(Activation act, double x) {
        return switch (act) {
            case SILU -> x / (1 + Math.exp(-x));
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case GELU_ERF -> gelu(x);
            case IDENTITY -> x;
            case RELU -> Math.max(x, 0);
        };
    }
}
