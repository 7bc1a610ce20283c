package io.transfuse.backend;

/**
 * The token grid of one Swin window-attention call ({@link Backend#windowAttention}): {@code height x width}
 * tokens row-major, cut into {@code window x window} windows after rolling the grid by {@code -shift} on both
 * axes (Swin's shifted windows; 0 for the plain W-MSA blocks).
 */
public record WindowGrid(int height, int width, int window, int shift) {
    public WindowGrid {
        if (window < 1) throw new IllegalArgumentException("window size must be positive, got " + window);
        if (height < 1 || width < 1) throw new IllegalArgumentException("token grid " + height + "x" + width + " must be positive");
        if (height % window != 0 || width % window != 0) {
            throw new IllegalArgumentException("token grid " + height + "x" + width + " is not a whole number of " + window + "x" + window + " windows");
        }
        if (shift < 0 || shift >= window) throw new IllegalArgumentException("window shift " + shift + " must be in [0, " + window + ")");
    }

    /** Tokens of the grid. */
    public int tokens() { return height * width; }

    /** Tokens of one window. */
    public int windowTokens() { return window * window; }

    /** Windows of the grid. */
    public int windows() { return (height / window) * (width / window); }

    /** Rows of the relative position bias table: {@code (2 window - 1)^2}. */
    public int biasRows() { return (2 * window - 1) * (2 * window - 1); }
}
