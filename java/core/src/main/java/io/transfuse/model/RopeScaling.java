package io.transfuse.model;

import java.util.Arrays;

/**
 * How a model stretches rotary position embedding beyond its training context. Every kind is just another table
 * of inverse frequencies (and a cos/sin factor, {@link #mscale}) for the one RoPE kernel, computed once at load
 * for the context the model is opened with. Formulas as Hugging Face's {@code modeling_rope_utils} defines
 * them; llama.cpp computes the same tables (YaRN inside its kernel, Llama 3 and LongRoPE through per-frequency
 * divisors stored in the GGUF file, {@link FreqFactors}).
 */
public sealed interface RopeScaling {
    /** The inverse frequencies of the first {@code rotaryDim} dims of a head, for base {@code theta}, at {@code context} positions. */
    float[] inverseFrequencies(double theta, int rotaryDim, int context);

    /** The factor on cos and sin (on Q and K alike, so scores scale by its square). */
    default float mscale(int context) { return 1f; }

    /** Plain RoPE: theta^(-2i/d). */
    static double[] base(double theta, int rotaryDim) {
        if (rotaryDim <= 0 || rotaryDim % 2 != 0) throw new IllegalArgumentException("rotary dim must be even and positive, got " + rotaryDim);
        double[] f = new double[rotaryDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = Math.pow(theta, -2.0 * i / rotaryDim);
        return f;
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static void positive(String what, double v) {
        if (!(v > 0) || Double.isInfinite(v)) throw new IllegalArgumentException("RoPE scaling: " + what + " must be positive, got " + v);
    }

    /** No scaling. */
    record None() implements RopeScaling {
        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) { return floats(base(theta, rotaryDim)); }
    }

    /** Position interpolation: every frequency divided by {@code factor}. */
    record Linear(double factor) implements RopeScaling {
        public Linear { positive("factor", factor); }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) {
            double[] f = base(theta, rotaryDim);
            for (int i = 0; i < f.length; i++) f[i] /= factor;
            return floats(f);
        }
    }

    /**
     * Dynamic NTK: beyond the original context the base grows to
     * {@code theta * (factor * ctx / orig - (factor - 1))^(d / (d - 2))}. Hugging Face recomputes it per forward
     * pass from the current length; here it is fixed for the context the model is opened with.
     */
    record DynamicNtk(double factor, int originalContext) implements RopeScaling {
        public DynamicNtk { positive("factor", factor); positive("original context", originalContext); }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) {
            if (context <= originalContext) return floats(base(theta, rotaryDim));
            double scaled = theta * Math.pow(factor * context / originalContext - (factor - 1), rotaryDim / (rotaryDim - 2.0));
            return floats(base(scaled, rotaryDim));
        }
    }

    /**
     * YaRN (Peng et al. 2023): frequencies with wavelengths shorter than the original context at
     * {@code betaFast} rotations are kept, those below {@code betaSlow} rotations are interpolated by
     * {@code factor}, a linear ramp between; cos/sin scaled by {@code attnFactor} (0.1 ln(factor) + 1 by default).
     */
    record Yarn(double factor, int originalContext, double betaFast, double betaSlow, double attnFactor) implements RopeScaling {
        public Yarn {
            positive("factor", factor);
            positive("original context", originalContext);
            positive("beta_fast", betaFast);
            positive("beta_slow", betaSlow);
            positive("attention factor", attnFactor);
        }

        /** With the defaults of the paper and of Hugging Face: beta_fast 32, beta_slow 1, attention factor 0.1 ln(factor) + 1. */
        public static Yarn of(double factor, int originalContext) {
            return new Yarn(factor, originalContext, 32, 1, factor > 1 ? 0.1 * Math.log(factor) + 1 : 1);
        }

        /** The dim index at which a frequency makes {@code rotations} turns over the original context. */
        private double correctionDim(double rotations, int rotaryDim, double theta) {
            return rotaryDim * Math.log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.log(theta));
        }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) {
            double[] f = base(theta, rotaryDim);
            double low = Math.max(0, Math.floor(correctionDim(betaFast, rotaryDim, theta)));
            double high = Math.min(rotaryDim - 1, Math.ceil(correctionDim(betaSlow, rotaryDim, theta)));
            double span = Math.max(0.001, high - low);
            for (int i = 0; i < f.length; i++) {
                double extrapolate = 1 - Math.min(1, Math.max(0, (i - low) / span));
                f[i] = f[i] / factor * (1 - extrapolate) + f[i] * extrapolate;
            }
            return floats(f);
        }

        @Override
        public float mscale(int context) { return (float) attnFactor; }
    }

    /**
     * Llama 3.1's scaling: wavelengths above {@code originalContext / lowFreqFactor} are divided by
     * {@code factor}, those below {@code originalContext / highFreqFactor} kept, a smooth blend between.
     */
    record Llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalContext) implements RopeScaling {
        public Llama3 {
            positive("factor", factor);
            positive("low_freq_factor", lowFreqFactor);
            positive("high_freq_factor", highFreqFactor);
            positive("original context", originalContext);
            if (!(highFreqFactor > lowFreqFactor)) throw new IllegalArgumentException("RoPE scaling llama3: high_freq_factor "
                    + highFreqFactor + " must exceed low_freq_factor " + lowFreqFactor);
        }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) {
            double[] f = base(theta, rotaryDim);
            double lowWavelen = originalContext / lowFreqFactor, highWavelen = originalContext / highFreqFactor;
            for (int i = 0; i < f.length; i++) {
                double wavelen = 2 * Math.PI / f[i];
                if (wavelen > lowWavelen) f[i] /= factor;
                else if (wavelen >= highWavelen) {
                    double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                    f[i] = (1 - smooth) * f[i] / factor + smooth * f[i];
                }
            }
            return floats(f);
        }

        /**
         * The same scaling as llama.cpp's converter stores it for Llama 3.1 ({@code rope_freqs.weight}): one divisor
         * of each base frequency, 1 for short wavelengths, {@code factor} for long ones, a smooth blend between.
         */
        public float[] frequencyFactors(double theta, int rotaryDim) {
            float[] f = new float[rotaryDim / 2];
            double lowWavelen = originalContext / lowFreqFactor, highWavelen = originalContext / highFreqFactor;
            for (int i = 0; i < f.length; i++) {
                double wavelen = 2 * Math.PI * Math.pow(theta, 2.0 * i / rotaryDim);
                if (wavelen < highWavelen) f[i] = 1;
                else if (wavelen > lowWavelen) f[i] = (float) factor;
                else {
                    double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                    f[i] = (float) (1 / ((1 - smooth) / factor + smooth));
                }
            }
            return f;
        }
    }

    /** Per-frequency divisors as llama.cpp stores them ({@code rope_freqs.weight}, {@code rope_factors_*.weight}). */
    record FreqFactors(float[] factors, double attnFactor) implements RopeScaling {
        public FreqFactors {
            factors = factors.clone();
            for (float x : factors) positive("frequency factor", x);
            positive("attention factor", attnFactor);
        }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) {
            double[] f = base(theta, rotaryDim);
            if (factors.length != f.length) {
                throw new IllegalArgumentException("RoPE frequency factors: " + factors.length + " values for a rotary dim of "
                        + rotaryDim + " (needs " + f.length + ")");
            }
            for (int i = 0; i < f.length; i++) f[i] /= factors[i];
            return floats(f);
        }

        @Override
        public float mscale(int context) { return (float) attnFactor; }

        @Override
        public String toString() { return "FreqFactors[" + Arrays.toString(factors) + ", attnFactor=" + attnFactor + "]"; }
    }

    /**
     * LongRoPE (Phi-3): per-frequency divisors, the short ones up to the original context and the long ones
     * beyond it (chosen by the context the model is opened with, as llama.cpp does); cos/sin scaled by
     * {@code sqrt(1 + ln(maxContext / orig) / ln(orig))} unless the config gives the factor.
     */
    record LongRope(float[] shortFactors, float[] longFactors, int originalContext, double attnFactor) implements RopeScaling {
        public LongRope {
            shortFactors = shortFactors.clone();
            longFactors = longFactors.clone();
            if (shortFactors.length != longFactors.length) throw new IllegalArgumentException("LongRoPE: " + shortFactors.length
                    + " short factors but " + longFactors.length + " long ones");
            positive("original context", originalContext);
            positive("attention factor", attnFactor);
        }

        /** The attention factor Hugging Face derives when the config has none. */
        public static double defaultAttnFactor(int maxContext, int originalContext) {
            double scale = (double) maxContext / originalContext;
            return scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(originalContext));
        }

        private FreqFactors at(int context) {
            return new FreqFactors(context > originalContext ? longFactors : shortFactors, attnFactor);
        }

        @Override
        public float[] inverseFrequencies(double theta, int rotaryDim, int context) { return at(context).inverseFrequencies(theta, rotaryDim, context); }

        @Override
        public float mscale(int context) { return (float) attnFactor; }
    }
}
