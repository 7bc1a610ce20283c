#!/usr/bin/python3
"""Writes the encoder-decoder references for Seq2SeqModelTest / Seq2SeqCudaEmuTest: small random-weight T5, BART
and Marian models in the Hugging Face layout, and what a plain float64 torch implementation of each computes on them; and t5-tokenizer/, a T5 of the vocabulary of
../tokenizers/spm-t5-unigram-tokenizer.json.gz for the CLI tests (no reference: the CLI is checked against the API).

Run with Debian's python3-torch (torch 1.13; transformers is not installed and not used), from this folder:
    /usr/bin/python3 make_seq2seq_fixture.py
    /usr/bin/python3 make_seq2seq_fixture.py --t5-small DIR   # t5-small's shape, random weights (speed only; 240 MB)
    /usr/bin/python3 make_seq2seq_fixture.py --opus-mt DIR    # opus-mt-en-de's shape likewise (300 MB)

Writes, per model, <name>/config.json + <name>/model.safetensors (F32, written by hand below) and
<name>-reference.json: for each source (token ids, lengths 5 .. 20) the encoder's last hidden state, the raw logits
of every greedy decoding step (before forced BOS/EOS) and the greedy output, max_new_tokens 8.

The implementations below are written from the papers and the HF model cards' documented semantics, separately from
the Java graph (io.transfuse.model.seq2seq):
  T5 (Raffel et al. 2020; HF modeling_t5 semantics): RMSNorm without mean or bias (eps 1e-6), pre-norm blocks,
    attention without 1/sqrt(d) scaling plus a learned bias per (relative-position bucket, head) computed in block
    0 and shared by every block (bidirectional buckets in the encoder, causal in the decoder, none in
    cross-attention), FFN ReLU ("relu") or gelu_new(x wi_0) * (x wi_1) ("gated-gelu"), final RMSNorm, tied
    embeddings scaled by d_model^-0.5 before the LM head.
  BART (Lewis et al. 2019): learned positions with offset 2, embeddings scaled by sqrt(d) when scale_embedding,
    layernorm_embedding, post-LN blocks, q scaled by head_dim^-0.5, GELU (erf), final_logits_bias; decoding starts
    with decoder_start_token_id, forced_bos_token_id at the first step, forced_eos_token_id at the last.
  Marian (HF MarianMTModel): as BART without layernorm_embedding, sinusoidal positions laid out as
    MarianSinusoidalPositionalEmbedding does (sin in columns [0, d/2), cos in [d/2, d), frequency 10000^(-2j/d),
    no offset), scale_embedding, swish, decoder_start_token_id = pad_token_id.
"""
import json
import math
import os
import struct

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
MAX_NEW = 8
SOURCES = [[5, 17, 33, 8, 41, 1], [12, 3, 77, 64, 9, 22, 31, 45, 50, 6, 71, 18, 29, 90, 11, 4, 38, 60, 25, 1],
           [40, 41, 42, 1]]


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(t.detach().numpy().astype(np.float32)).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rounded(t):  # the values the F32 file holds, so the float64 reference runs on exactly those
    return torch.tensor(t.numpy().astype(np.float32).astype(np.float64))


def draw(g, shape, std):
    return rounded(torch.randn(*shape, generator=g) * std)


def softmax_attention(q, k, v, heads, d, bias=None, causal=False, scale=1.0):
    # q [n][heads*d], k/v [m][heads*d]; bias [heads][n][m] or None
    n, m = q.shape[0], k.shape[0]
    qh = q.view(n, heads, d).transpose(0, 1)
    kh = k.view(m, heads, d).transpose(0, 1)
    vh = v.view(m, heads, d).transpose(0, 1)
    s = qh @ kh.transpose(1, 2) * scale
    if bias is not None:
        s = s + bias
    if causal:
        s = s.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
    return (torch.softmax(s, -1) @ vh).transpose(0, 1).reshape(n, heads * d)


# ---- T5 -----------------------------------------------------------------------------------------------------

def t5_bucket(rel, bidirectional, buckets, max_distance):
    """Bucket of relative position rel = key - query (Raffel et al. 2020, section 2.1; HF _relative_position_bucket)."""
    out = 0
    if bidirectional:
        buckets //= 2
        if rel > 0:
            out += buckets
        n = abs(rel)
    else:
        n = -min(rel, 0)
    exact = buckets // 2
    if n < exact:
        return out + n
    # float32 as torch computes it: log(n / exact) / log(max_distance / exact) * (buckets - exact)
    large = np.float32(np.log(np.float32(n) / np.float32(exact))) / np.float32(math.log(max_distance / exact))
    large = exact + int(np.float32(large * np.float32(buckets - exact)))
    return out + min(large, buckets - 1)


def t5_bias(table, n, m, bidirectional, buckets, max_distance, q_offset=0):
    idx = torch.tensor([[t5_bucket(j - (i + q_offset), bidirectional, buckets, max_distance) for j in range(m)]
                        for i in range(n)])
    return table[idx].permute(2, 0, 1)  # [heads][n][m]


def rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def make_t5(name, gated, tied, seed, vocab=96, d_model=32, layers=(2, 3)):
    cfg = dict(architectures=["T5ForConditionalGeneration"], model_type="t5", d_model=d_model, d_kv=12, d_ff=64,
               num_heads=4, num_layers=layers[0], num_decoder_layers=layers[1], vocab_size=vocab, relative_attention_num_buckets=8,
               relative_attention_max_distance=16, layer_norm_epsilon=1e-6,
               feed_forward_proj="gated-gelu" if gated else "relu", tie_word_embeddings=tied, pad_token_id=0,
               eos_token_id=1, decoder_start_token_id=0, is_encoder_decoder=True)
    g = torch.Generator().manual_seed(seed)
    d, inner, ff, V = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"], cfg["vocab_size"]
    w = {"shared.weight": draw(g, (V, d), 1.0)}

    def attn(prefix, bias):
        for p in "qkvo":
            shape = (d, inner) if p == "o" else (inner, d)
            # q and k smaller: T5 does not scale q.k by 1/sqrt(d), and scores of std ~1-3 (as trained T5s have)
            # keep the softmax away from one-hot, where fp16 rounding of a score would flip the output
            w[f"{prefix}.{p}.weight"] = draw(g, shape, 0.12 if p in "qk" else 0.3)
        if bias:
            w[f"{prefix}.relative_attention_bias.weight"] = draw(g, (cfg["relative_attention_num_buckets"], cfg["num_heads"]), 1.0)

    def ffn(prefix):
        if gated:
            w[prefix + ".DenseReluDense.wi_0.weight"] = draw(g, (ff, d), 0.3)
            w[prefix + ".DenseReluDense.wi_1.weight"] = draw(g, (ff, d), 0.3)
        else:
            w[prefix + ".DenseReluDense.wi.weight"] = draw(g, (ff, d), 0.3)
        w[prefix + ".DenseReluDense.wo.weight"] = draw(g, (d, ff), 0.2)
        w[prefix + ".layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))

    for l in range(cfg["num_layers"]):
        p = f"encoder.block.{l}.layer"
        attn(p + ".0.SelfAttention", l == 0)
        w[p + ".0.layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
        ffn(p + ".1")
    w["encoder.final_layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
    for l in range(cfg["num_decoder_layers"]):
        p = f"decoder.block.{l}.layer"
        attn(p + ".0.SelfAttention", l == 0)
        w[p + ".0.layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
        attn(p + ".1.EncDecAttention", False)
        w[p + ".1.layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
        ffn(p + ".2")
    w["decoder.final_layer_norm.weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
    if not tied:
        w["lm_head.weight"] = draw(g, (V, d), 0.3)
    # HF checkpoints also carry encoder.embed_tokens / decoder.embed_tokens (the shared table): keep one copy
    w["encoder.embed_tokens.weight"] = w["shared.weight"]
    return cfg, w


def t5_forward(cfg, w, src, max_new):
    H, dk, eps = cfg["num_heads"], cfg["d_kv"], cfg["layer_norm_epsilon"]
    B, MD = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    gated = cfg["feed_forward_proj"] == "gated-gelu"

    def ffn(p, x):
        h = rms(x, w[p + ".layer_norm.weight"], eps)
        if gated:
            a = gelu_new(h @ w[p + ".DenseReluDense.wi_0.weight"].T) * (h @ w[p + ".DenseReluDense.wi_1.weight"].T)
        else:
            a = torch.relu(h @ w[p + ".DenseReluDense.wi.weight"].T)
        return x + a @ w[p + ".DenseReluDense.wo.weight"].T

    def attn(p, x, kv, bias, causal):
        q, k, v = x @ w[p + ".q.weight"].T, kv @ w[p + ".k.weight"].T, kv @ w[p + ".v.weight"].T
        return softmax_attention(q, k, v, H, dk, bias, causal) @ w[p + ".o.weight"].T

    x = w["shared.weight"][torch.tensor(src)]
    n = len(src)
    eb = t5_bias(w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], n, n, True, B, MD)
    for l in range(cfg["num_layers"]):
        p = f"encoder.block.{l}.layer"
        x = x + attn(p + ".0.SelfAttention", rms(x, w[p + ".0.layer_norm.weight"], eps),
                     rms(x, w[p + ".0.layer_norm.weight"], eps), eb, False)
        x = ffn(p + ".1", x)
    enc = rms(x, w["encoder.final_layer_norm.weight"], eps)

    def decode(ids):
        y = w["shared.weight"][torch.tensor(ids)]
        m = len(ids)
        db = t5_bias(w["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"], m, m, False, B, MD)
        for l in range(cfg["num_decoder_layers"]):
            p = f"decoder.block.{l}.layer"
            h = rms(y, w[p + ".0.layer_norm.weight"], eps)
            y = y + attn(p + ".0.SelfAttention", h, h, db, True)
            y = y + attn(p + ".1.EncDecAttention", rms(y, w[p + ".1.layer_norm.weight"], eps), enc, None, False)
            y = ffn(p + ".2", y)
        y = rms(y, w["decoder.final_layer_norm.weight"], eps)
        if cfg["tie_word_embeddings"]:
            return (y * cfg["d_model"] ** -0.5) @ w["shared.weight"].T
        return y @ w["lm_head.weight"].T

    return enc, greedy(cfg, decode, max_new)


# ---- BART / Marian ------------------------------------------------------------------------------------------

def sinusoidal(n, d):
    pos = np.arange(n)[:, None]
    j = np.arange(d // 2)[None, :]
    ang = pos / np.power(10000.0, 2 * j / d)
    return torch.tensor(np.concatenate([np.sin(ang), np.cos(ang)], axis=1))


def make_bart(name, marian, seed, layers=(2, 3)):
    cfg = dict(architectures=["MarianMTModel" if marian else "BartForConditionalGeneration"],
               model_type="marian" if marian else "bart", d_model=32, encoder_attention_heads=4,
               decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=48, encoder_layers=layers[0], decoder_layers=layers[1],
               vocab_size=96, max_position_embeddings=64, activation_function="swish" if marian else "gelu",
               scale_embedding=True, pad_token_id=95 if marian else 1, eos_token_id=0 if marian else 2,
               bos_token_id=0, decoder_start_token_id=95 if marian else 2, is_encoder_decoder=True,
               normalize_before=False, tie_word_embeddings=True)
    if not marian:
        cfg.update(forced_bos_token_id=0, forced_eos_token_id=2, add_final_layer_norm=False)
    else:
        cfg.update(forced_eos_token_id=0, share_encoder_decoder_embeddings=True, static_position_embeddings=True)
    g = torch.Generator().manual_seed(seed)
    d, V = cfg["d_model"], cfg["vocab_size"]
    w = {"model.shared.weight": draw(g, (V, d), 0.5)}

    def lin(name, out, inp, std=0.3):
        w[name + ".weight"] = draw(g, (out, inp), std)
        w[name + ".bias"] = draw(g, (out,), 0.1)

    def ln(name):
        w[name + ".weight"] = rounded(1 + 0.2 * torch.randn(d, generator=g))
        w[name + ".bias"] = draw(g, (d,), 0.1)

    def attn(p):
        for x in ("q_proj", "k_proj", "v_proj", "out_proj"):
            lin(f"{p}.{x}", d, d)

    for side, layers, ffn in (("encoder", cfg["encoder_layers"], cfg["encoder_ffn_dim"]),
                              ("decoder", cfg["decoder_layers"], cfg["decoder_ffn_dim"])):
        if marian:
            w[f"model.{side}.embed_positions.weight"] = rounded(sinusoidal(cfg["max_position_embeddings"], d))
        else:
            w[f"model.{side}.embed_positions.weight"] = draw(g, (cfg["max_position_embeddings"] + 2, d), 0.5)
            ln(f"model.{side}.layernorm_embedding")
        for l in range(layers):
            p = f"model.{side}.layers.{l}"
            attn(p + ".self_attn")
            ln(p + ".self_attn_layer_norm")
            if side == "decoder":
                attn(p + ".encoder_attn")
                ln(p + ".encoder_attn_layer_norm")
            lin(p + ".fc1", ffn, d)
            lin(p + ".fc2", d, ffn, 0.2)
            ln(p + ".final_layer_norm")
    w["final_logits_bias"] = draw(g, (1, V), 0.5)
    return cfg, w


def bart_forward(cfg, w, src, max_new):
    marian = cfg["model_type"] == "marian"
    d, H = cfg["d_model"], cfg["encoder_attention_heads"]
    hd = d // H
    scale = math.sqrt(d) if cfg["scale_embedding"] else 1.0
    act = torch.nn.functional.silu if marian else torch.nn.functional.gelu
    lnf = lambda x, p: torch.nn.functional.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], 1e-5)
    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]

    def attn(p, x, kv, causal):
        q = lin(x, p + ".q_proj")
        return lin(softmax_attention(q, lin(kv, p + ".k_proj"), lin(kv, p + ".v_proj"), H, hd, None, causal, hd ** -0.5),
                   p + ".out_proj")

    def embed(side, ids):
        x = w["model.shared.weight"][torch.tensor(ids)] * scale
        pos = torch.arange(len(ids)) + (0 if marian else 2)
        x = x + w[f"model.{side}.embed_positions.weight"][pos]
        return x if marian else lnf(x, f"model.{side}.layernorm_embedding")

    x = embed("encoder", src)
    for l in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{l}"
        x = lnf(x + attn(p + ".self_attn", x, x, False), p + ".self_attn_layer_norm")
        x = lnf(x + lin(act(lin(x, p + ".fc1")), p + ".fc2"), p + ".final_layer_norm")
    enc = x

    def decode(ids):
        y = embed("decoder", ids)
        for l in range(cfg["decoder_layers"]):
            p = f"model.decoder.layers.{l}"
            y = lnf(y + attn(p + ".self_attn", y, y, True), p + ".self_attn_layer_norm")
            y = lnf(y + attn(p + ".encoder_attn", y, enc, False), p + ".encoder_attn_layer_norm")
            y = lnf(y + lin(act(lin(y, p + ".fc1")), p + ".fc2"), p + ".final_layer_norm")
        return y @ w["model.shared.weight"].T + w["final_logits_bias"][0]

    return enc, greedy(cfg, decode, max_new)


def greedy(cfg, decode, max_new):
    """Greedy search as HF generate runs it with max_new_tokens: the decoder input starts with
    decoder_start_token_id; forced_bos_token_id is the first generated token, forced_eos_token_id the one that
    reaches the length limit; it stops after eos_token_id."""
    ids, steps = [cfg["decoder_start_token_id"]], []
    for step in range(max_new):
        logits = decode(ids)[-1]
        steps.append([float(v) for v in logits])
        if step == 0 and cfg.get("forced_bos_token_id") is not None:
            tok = cfg["forced_bos_token_id"]
        elif step == max_new - 1 and cfg.get("forced_eos_token_id") is not None:
            tok = cfg["forced_eos_token_id"]
        else:
            tok = int(torch.argmax(logits))
        ids.append(tok)
        if tok == cfg["eos_token_id"]:
            break
    return steps, ids[1:]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    models = [("t5-tiny", lambda: make_t5("t5-tiny", False, True, 1), t5_forward),
              ("t5-gated-tiny", lambda: make_t5("t5-gated-tiny", True, False, 2), t5_forward),
              ("bart-tiny", lambda: make_bart("bart-tiny", False, 3), bart_forward),
              ("marian-tiny", lambda: make_bart("marian-tiny", True, 4), bart_forward)]
    for name, make, forward in models:
        cfg, w = make()
        os.makedirs(os.path.join(here, name), exist_ok=True)
        with open(os.path.join(here, name, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        # Marian checkpoints leave the sinusoidal tables out (MarianMTModel._keys_to_ignore_on_save): so does this one
        write_safetensors(os.path.join(here, name, "model.safetensors"),
                          {k: v for k, v in w.items() if not (cfg["model_type"] == "marian" and "embed_positions" in k)})
        ref = {"command": "/usr/bin/python3 make_seq2seq_fixture.py", "max_new_tokens": MAX_NEW, "cases": []}
        for src in SOURCES:
            with torch.no_grad():
                enc, (steps, out) = forward(cfg, w, src, MAX_NEW)
            ref["cases"].append({"source": src, "encoder_output": [round(float(v), 7) for v in enc.flatten()],
                                 "step_logits": [[round(v, 6) for v in s] for s in steps], "greedy": out})
        with open(os.path.join(here, name + "-reference.json"), "w") as f:
            json.dump(ref, f)
        print(name, [c["greedy"] for c in ref["cases"]])
    # For the CLI tests: a T5 with the vocabulary of ../tokenizers/spm-t5-unigram-tokenizer.json.gz (8000 pieces and 100
    # <extra_id_N>), which the tests place beside it as tokenizer.json; no reference (the CLI is checked against the API)
    cfg, w = make_t5("t5-tokenizer", False, True, 5, vocab=8100, d_model=16)
    os.makedirs(os.path.join(here, "t5-tokenizer"), exist_ok=True)
    with open(os.path.join(here, "t5-tokenizer", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(here, "t5-tokenizer", "model.safetensors"), {k: v for k, v in w.items() if k != "encoder.embed_tokens.weight"})


def real_shape(kind, out):
    """Random weights in a real model's shape, for measuring speed (no reference; not committed):
    t5-small (d 512, 8 heads x 64, d_ff 2048, 6 + 6 blocks, vocab 32128) or opus-mt (Marian en-de: d 512, 8 heads,
    ffn 2048, 6 + 6 blocks, vocab 58101)."""
    torch.manual_seed(0)
    if kind == "t5-small":
        cfg = dict(architectures=["T5ForConditionalGeneration"], model_type="t5", d_model=512, d_kv=64, d_ff=2048, num_heads=8,
                   num_layers=6, num_decoder_layers=6, vocab_size=32128, relative_attention_num_buckets=32,
                   relative_attention_max_distance=128, layer_norm_epsilon=1e-6, feed_forward_proj="relu",
                   tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    else:
        cfg = dict(architectures=["MarianMTModel"], model_type="marian", d_model=512, encoder_attention_heads=8,
                   decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048, encoder_layers=6, decoder_layers=6,
                   vocab_size=58101, max_position_embeddings=512, activation_function="swish", scale_embedding=True,
                   pad_token_id=58100, eos_token_id=0, decoder_start_token_id=58100, forced_eos_token_id=0)
    shapes = {}
    if kind == "t5-small":
        _, w = make_t5("x", False, True, 0, vocab=8, d_model=8, layers=(6, 6))  # names only
        d, inner, ff, V = 512, 512, 2048, 32128
        for k in w:
            if k.endswith("relative_attention_bias.weight"): shapes[k] = (32, 8)
            elif k.endswith("layer_norm.weight"): shapes[k] = (d,)
            elif k in ("shared.weight", "encoder.embed_tokens.weight"): shapes[k] = (V, d)
            elif ".wi." in k: shapes[k] = (ff, d)
            elif ".wo." in k: shapes[k] = (d, ff)
            else: shapes[k] = (d, d)
    else:
        _, w = make_bart("x", True, 0, layers=(6, 6))
        d, ff, V = 512, 2048, 58101
        for k in w:
            if "embed_positions" in k: continue
            if k == "model.shared.weight": shapes[k] = (V, d)
            elif k == "final_logits_bias": shapes[k] = (1, V)
            elif ".fc1.weight" in k: shapes[k] = (ff, d)
            elif ".fc1.bias" in k: shapes[k] = (ff,)
            elif ".fc2.weight" in k: shapes[k] = (d, ff)
            elif k.endswith(".weight") and "layer_norm" not in k: shapes[k] = (d, d)
            else: shapes[k] = (d,)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    write_safetensors(os.path.join(out, "model.safetensors"),
                      {k: (torch.randn(*sh) * (0.05 if len(sh) == 2 else 0.02) + (1 if "norm" in k and len(sh) == 1 and "bias" not in k else 0))
                       for k, sh in shapes.items()})


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] in ("--t5-small", "--opus-mt"):
        real_shape(sys.argv[1][2:], sys.argv[2])
    else:
        main()
