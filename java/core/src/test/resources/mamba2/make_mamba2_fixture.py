#!/usr/bin/env python3
"""Writes small random-weight Mamba-2 models in Hugging Face's Mamba2ForCausalLM layout (config.json,
model.safetensors) and the logits of a plain NumPy reference, for Mamba2ModelTest and Mamba2CudaEmuTest.

Command (from the repository root; NumPy 2, nothing else):
    python3 java/core/src/test/resources/mamba2/make_mamba2_fixture.py java/core/src/test/resources/mamba2

The reference is written here from the Mamba-2 definition (Dao & Gu 2024; HF's Mamba2Mixer torch path for the
layout and the order of the in_proj rows), not from Transfuse's graph: in float64, the SSM runs as the plain
sequential recurrence, token by token,
    h_t = exp(dt_t A) h_{t-1} + dt_t x_t B_t^T,   y_t = h_t C_t + D x_t       (per head; B, C of the head's group)
with dt_t = softplus(dt_raw + dt_bias), A = -exp(A_log), the depthwise causal conv (+ SiLU) over x, B, C before it,
and the gated RMSNorm rmsnorm_per_group(y * silu(z)) * w after it (norm_before_gate = False, group size
d_inner / n_groups). reference.json holds the prompt and the logits after each of its positions.
"""
import json
import os
import struct
import sys

import numpy as np

# name -> (config, prompt length). Prompts of 80 tokens cross the CPU's 64-token and the CUDA kernel's
# 32-token chunks of the SSD scan.
MODELS = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, vocab_size=61, expand=2, head_dim=16, n_groups=2, state_size=16,
                 conv_kernel=4, use_bias=False, use_conv_bias=True, tie_word_embeddings=False, seed=11),
    "variant": dict(hidden_size=24, num_hidden_layers=3, vocab_size=50, expand=2, head_dim=8, n_groups=1, state_size=12,
                    conv_kernel=3, use_bias=True, use_conv_bias=False, tie_word_embeddings=True, seed=12),
}
PROMPT_LENGTH = 80


def write_safetensors(path, tensors):
    """The safetensors format: u64 header length, a JSON header of dtype/shape/offsets, the raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights(cfg):
    rng = np.random.default_rng(cfg["seed"])
    d, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    di = cfg["expand"] * d
    H, G, N, K = di // cfg["head_dim"], cfg["n_groups"], cfg["state_size"], cfg["conv_kernel"]
    conv_dim = di + 2 * G * N
    rows = (cfg["vocab_size"] + 7) // 8 * 8  # the embedding padded beyond vocab_size, as checkpoints are
    f32 = lambda a: np.asarray(a, dtype=np.float32)
    w = {"backbone.embeddings.weight": f32(rng.normal(0, 1, (rows, d)))}
    for l in range(L):
        p = f"backbone.layers.{l}."
        w[p + "norm.weight"] = f32(1 + 0.1 * rng.normal(size=d))
        w[p + "mixer.in_proj.weight"] = f32(rng.normal(0, d ** -0.5, (2 * di + 2 * G * N + H, d)))
        if cfg["use_bias"]:
            w[p + "mixer.in_proj.bias"] = f32(0.1 * rng.normal(size=2 * di + 2 * G * N + H))
        w[p + "mixer.conv1d.weight"] = f32(rng.normal(0, K ** -0.5, (conv_dim, 1, K)))
        if cfg["use_conv_bias"]:
            w[p + "mixer.conv1d.bias"] = f32(0.1 * rng.normal(size=conv_dim))
        dt = np.exp(rng.uniform(np.log(0.01), np.log(0.3), H))  # Mamba-2's dt init range, a little wider
        w[p + "mixer.dt_bias"] = f32(dt + np.log(-np.expm1(-dt)))  # inverse softplus
        w[p + "mixer.A_log"] = f32(np.log(rng.uniform(1, 16, H)))
        w[p + "mixer.D"] = f32(1 + 0.1 * rng.normal(size=H))
        w[p + "mixer.norm.weight"] = f32(1 + 0.1 * rng.normal(size=di))
        w[p + "mixer.out_proj.weight"] = f32(rng.normal(0, di ** -0.5, (d, di)))
        if cfg["use_bias"]:
            w[p + "mixer.out_proj.bias"] = f32(0.1 * rng.normal(size=d))
    w["backbone.norm_f.weight"] = f32(1 + 0.1 * rng.normal(size=d))
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = f32(rng.normal(0, d ** -0.5, (rows, d)))
    return w


def softplus(v):
    return np.where(v > 20, v, np.log1p(np.exp(np.minimum(v, 20))))


def silu(v):
    return v / (1 + np.exp(-v))


def rmsnorm(v, w, eps):
    return v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + eps) * w


def reference_logits(cfg, w, tokens, eps=1e-5):
    """Logits [T][vocab rows] of the whole prompt, in float64, the SSM as the sequential recurrence."""
    g64 = {k: v.astype(np.float64) for k, v in w.items()}
    d, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    di = cfg["expand"] * d
    P = cfg["head_dim"]
    H, G, N, K = di // P, cfg["n_groups"], cfg["state_size"], cfg["conv_kernel"]
    T = len(tokens)
    res = g64["backbone.embeddings.weight"][tokens]
    for l in range(L):
        p = f"backbone.layers.{l}.mixer."
        u = rmsnorm(res, g64[f"backbone.layers.{l}.norm.weight"], eps)
        proj = u @ g64[p + "in_proj.weight"].T
        if cfg["use_bias"]:
            proj = proj + g64[p + "in_proj.bias"]
        z, xbc, dt_raw = proj[:, :di], proj[:, di:2 * di + 2 * G * N], proj[:, 2 * di + 2 * G * N:]
        # causal depthwise conv: output t sees inputs t-K+1 .. t (zeros before the start)
        cw = g64[p + "conv1d.weight"][:, 0, :]
        padded = np.concatenate([np.zeros((K - 1, xbc.shape[1])), xbc])
        conv = np.stack([sum(cw[:, j] * padded[t + j] for j in range(K)) for t in range(T)])
        if cfg["use_conv_bias"]:
            conv = conv + g64[p + "conv1d.bias"]
        conv = silu(conv)
        x, B, C = conv[:, :di].reshape(T, H, P), conv[:, di:di + G * N].reshape(T, G, N), conv[:, di + G * N:].reshape(T, G, N)
        dt = softplus(dt_raw + g64[p + "dt_bias"])
        A = -np.exp(g64[p + "A_log"])
        D = g64[p + "D"]
        h = np.zeros((H, P, N))
        y = np.zeros((T, H, P))
        for t in range(T):
            for hd in range(H):
                g = hd // (H // G)
                h[hd] = np.exp(dt[t, hd] * A[hd]) * h[hd] + dt[t, hd] * np.outer(x[t, hd], B[t, g])
                y[t, hd] = h[hd] @ C[t, g] + D[hd] * x[t, hd]
        v = (y.reshape(T, di) * silu(z)).reshape(T, G, di // G)
        v = (v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + eps)).reshape(T, di) * g64[p + "norm.weight"]
        out = v @ g64[p + "out_proj.weight"].T
        if cfg["use_bias"]:
            out = out + g64[p + "out_proj.bias"]
        res = res + out
    final = rmsnorm(res, g64["backbone.norm_f.weight"], eps)
    head = g64["backbone.embeddings.weight"] if cfg["tie_word_embeddings"] else g64["lm_head.weight"]
    return final @ head.T


def main(out_dir):
    for name, spec in MODELS.items():
        cfg = dict(spec)
        seed = cfg.pop("seed")
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        di = cfg["expand"] * cfg["hidden_size"]
        config = {
            "architectures": ["Mamba2ForCausalLM"], "model_type": "mamba2",
            "hidden_size": cfg["hidden_size"], "num_hidden_layers": cfg["num_hidden_layers"], "vocab_size": cfg["vocab_size"],
            "expand": cfg["expand"], "num_heads": di // cfg["head_dim"], "head_dim": cfg["head_dim"], "n_groups": cfg["n_groups"],
            "state_size": cfg["state_size"], "conv_kernel": cfg["conv_kernel"], "chunk_size": 256, "layer_norm_epsilon": 1e-5,
            "use_bias": cfg["use_bias"], "use_conv_bias": cfg["use_conv_bias"], "tie_word_embeddings": cfg["tie_word_embeddings"],
            "hidden_act": "silu", "rms_norm": True, "norm_before_gate": False, "time_step_limit": [0.0, float("inf")],
            "residual_in_fp32": True, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
        }
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config, f, indent=2)  # Python writes the inf as Infinity, as HF's files have it
        cfg["seed"] = seed
        w = make_weights(cfg)
        write_safetensors(os.path.join(d, "model.safetensors"), w)
        prompt = np.random.default_rng(seed + 100).integers(0, cfg["vocab_size"], PROMPT_LENGTH)
        logits = reference_logits(cfg, w, prompt)
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({"command": "python3 java/core/src/test/resources/mamba2/make_mamba2_fixture.py java/core/src/test/resources/mamba2",
                       "prompt": prompt.tolist(), "logits": [[round(float(v), 7) for v in row] for row in logits]}, f)
        print(f"{name}: {len(w)} tensors, logits {logits.shape}, max |logit| {np.abs(logits).max():.3g}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
