#!/usr/bin/python3
"""Writes small random-weight MobileBERT, ModernBERT, nomic-bert and JinaBERT v2 models in their checkpoints' layouts
(config.json, model.safetensors) and the last hidden states a plain PyTorch reference computes for a few token sequences
(reference.json), for BertVariantFixturesTest; and the same encoders with the task heads of their *ForSequenceClassification /
*ForTokenClassification classes (HEADS below) and the logits they compute, for VariantHeadFixturesTest.

Command (from the repository root; Debian's python3 with python3-torch 1.13 and numpy, nothing else):
    /usr/bin/python3 java/core/src/test/resources/bertx/make_bertx_fixtures.py java/core/src/test/resources/bertx
A real-size model for a throughput measurement (BENCH below; weights only, no reference):
    /usr/bin/python3 java/core/src/test/resources/bertx/make_bertx_fixtures.py --bench modernbert-base-rerank build/modernbert-base-rerank

The reference is written here from each model's definition (Hugging Face modeling_mobilebert.py and modeling_modernbert.py,
nomic-ai's modeling_hf_nomic_bert.py, jinaai's jina-bert-implementation modeling_bert.py: module structure, tensor names,
config keys), not from Transfuse's graphs: one sequence at a time, in float64, with dense [len, len] attention masks built
from the definitions (ModernBERT: |i - j| <= local_attention // 2 on layers l % global_attn_every_n_layers != 0; JinaBERT:
bias -slope_h |i - j|). Word embeddings are stored as F16 (their values rounded once; the reference reads the rounded values),
everything else as F32. Vocabularies have 2100 rows: the ids of the MiniLM WordPiece tokenizer's specials, characters and
~100 commonest words, so `transfuse embed` runs on them with that tokenizer cut to 2100 entries.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
VOCAB = 2100
# Token sequences (ids < VOCAB), [CLS] ... [SEP] as a WordPiece tokenizer makes them; lengths 1 to 40 cross ModernBERT's
# window of 9 keys and the 32-row tiles of the kernels.
LENGTHS = [1, 5, 17, 40]


def sequences(rng):
    out, types = [], []
    for n in LENGTHS:
        ids = [101] + [int(x) for x in rng.integers(999, VOCAB, n - 2)] + [102] if n > 1 else [101]
        ids = ids[:n]
        t = [0] * n
        if n == 17:
            t = [0] * 9 + [1] * 8  # a sentence pair: the token-type rows matter
        out.append(ids)
        types.append(t)
    return out, types


def write_safetensors(path, tensors, f16=()):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.asarray(a)
        dt = "F16" if name in f16 else "F32"
        b = np.ascontiguousarray(a, dtype="<f2" if dt == "F16" else "<f4").tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class Weights:
    """Random tensors, kept as the float64 values of what is stored (F16 or F32 rounding applied)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.t, self.f16 = {}, set()

    def normal(self, name, shape, std=0.2, f16=False):
        a = self.rng.normal(0, std, shape).astype(np.float16 if f16 else np.float32)
        self.t[name] = a
        if f16:
            self.f16.add(name)
        return torch.tensor(a.astype(np.float64))

    def around(self, name, shape, center, spread):
        a = (center + self.rng.uniform(-spread, spread, shape)).astype(np.float32)
        self.t[name] = a
        return torch.tensor(a.astype(np.float64))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps) * w
    return y if b is None else y + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def attention(q, k, v, heads, bias=None):
    """softmax(q k^T / sqrt(d) + bias) v per head; q, k, v [n][heads * d]; bias [heads or 1][n][n] (-inf masks)."""
    n, width = q.shape
    d = width // heads
    q, k, v = (t.view(n, heads, d).transpose(0, 1) for t in (q, k, v))
    s = q @ k.transpose(1, 2) / math.sqrt(d)
    if bias is not None:
        s = s + bias
    return (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(n, width)


def rotate(x, heads, rot, theta, interleaved=False):
    """RoPE (Su et al.) on the first rot values of each head of x [n][heads * d], position i for row i."""
    n, width = x.shape
    d = width // heads
    x = x.view(n, heads, d).clone()
    inv = 1.0 / theta ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot)
    ang = (torch.arange(n, dtype=torch.float32)[:, None] * inv[None, :]).double()  # fp32 angles, as HF
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    if interleaved:
        a, b = x[..., 0:rot:2].clone(), x[..., 1:rot:2].clone()
        x[..., 0:rot:2], x[..., 1:rot:2] = a * c - b * s, a * s + b * c
    else:
        a, b = x[..., : rot // 2].clone(), x[..., rot // 2: rot].clone()
        x[..., : rot // 2], x[..., rot // 2: rot] = a * c - b * s, a * s + b * c
    return x.reshape(n, width)


# ---- MobileBERT (modeling_mobilebert.py) ----

def mobilebert(cfg, seed):
    W = Weights(seed)
    h, t, e, inter = cfg["hidden_size"], cfg["intra_bottleneck_size"], cfg["embedding_size"], cfg["intermediate_size"]
    if not cfg["use_bottleneck"]:
        t = h
    vin = t if cfg["use_bottleneck_attention"] else h
    word = W.normal("embeddings.word_embeddings.weight", (VOCAB, e), 0.5, f16=True)
    pos = W.normal("embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], h))
    typ = W.normal("embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], h))
    tri = cfg["trigram_input"]
    if tri or e != h:
        et_w = W.normal("embeddings.embedding_transformation.weight", (h, (3 if tri else 1) * e), 0.3)
        et_b = W.normal("embeddings.embedding_transformation.bias", (h,), 0.1)

    def nonorm(name, width, eps=None):
        # NoNorm: x * weight + bias. normalization_type "layer_norm" (the teacher): nn.LayerNorm, with layer_norm_eps where
        # HF passes it and torch's default 1e-5 where it does not (embeddings.LayerNorm, the layer's output.LayerNorm).
        w = W.around(name + ".weight", (width,), 1.0, 0.3)
        b = W.normal(name + ".bias", (width,), 0.1)
        if cfg.get("normalization_type", "no_norm") == "layer_norm":
            e = cfg["layer_norm_eps"] if eps is None else eps
            return lambda x: layer_norm(x, w, b, e)
        return lambda x: x * w + b

    def dense(name, out, inp, std=0.25):
        w = W.normal(name + ".weight", (out, inp), std)
        b = W.normal(name + ".bias", (out,), 0.1)
        return lambda x: x @ w.T + b

    act = (lambda x: torch.relu(x)) if cfg["hidden_act"] == "relu" else gelu
    emb_norm = nonorm("embeddings.LayerNorm", h, 1e-5)
    layers = []
    for l in range(cfg["num_hidden_layers"]):
        n = f"encoder.layer.{l}."
        L = {}
        if cfg["use_bottleneck"]:
            L["bin"] = (dense(n + "bottleneck.input.dense", t, h), nonorm(n + "bottleneck.input.LayerNorm", t))
            if cfg["key_query_shared_bottleneck"] and not cfg["use_bottleneck_attention"]:
                L["bsh"] = (dense(n + "bottleneck.attention.dense", t, h), nonorm(n + "bottleneck.attention.LayerNorm", t))
        L["q"], L["k"], L["v"] = dense(n + "attention.self.query", t, t), dense(n + "attention.self.key", t, t), dense(n + "attention.self.value", t, vin)
        L["o"], L["on"] = dense(n + "attention.output.dense", t, t), nonorm(n + "attention.output.LayerNorm", t)
        L["ffn"] = [(dense(f"{n}ffn.{i}.intermediate.dense", inter, t), dense(f"{n}ffn.{i}.output.dense", t, inter),
                     nonorm(f"{n}ffn.{i}.output.LayerNorm", t)) for i in range(cfg["num_feedforward_networks"] - 1)]
        L["i"], L["out"], L["outn"] = dense(n + "intermediate.dense", inter, t), dense(n + "output.dense", t, inter), nonorm(n + "output.LayerNorm", t, 1e-5)
        if cfg["use_bottleneck"]:
            L["ob"] = (dense(n + "output.bottleneck.dense", h, t), nonorm(n + "output.bottleneck.LayerNorm", h))
        layers.append(L)

    def forward(ids, types):
        n = len(ids)
        x = word[torch.tensor(ids)]
        if tri:
            nxt = torch.cat([x[1:], torch.zeros(1, e)])
            prv = torch.cat([torch.zeros(1, e), x[:-1]])
            x = torch.cat([nxt, x, prv], dim=1)
        if tri or e != h:
            x = x @ et_w.T + et_b
        x = emb_norm(x + pos[:n] + typ[torch.tensor(types)])
        for L in layers:
            if cfg["use_bottleneck"]:
                inp = L["bin"][1](L["bin"][0](x))
                if cfg["use_bottleneck_attention"]:
                    qk, vv = inp, inp
                elif "bsh" in L:
                    qk, vv = L["bsh"][1](L["bsh"][0](x)), x
                else:
                    qk, vv = x, x
            else:
                inp, qk, vv = x, x, x
            a = L["on"](L["o"](attention(L["q"](qk), L["k"](qk), L["v"](vv), cfg["num_attention_heads"])) + inp)
            for fi, fo, fn in L["ffn"]:
                a = fn(fo(act(fi(a))) + a)
            o = L["out"](act(L["i"](a)))
            if cfg["use_bottleneck"]:
                o = L["outn"](o + a)
                x = L["ob"][1](L["ob"][0](o) + x)
            else:
                x = L["outn"](o + a)
        return x

    return W, forward


# ---- ModernBERT (modeling_modernbert.py) ----

def modernbert(cfg, seed):
    W = Weights(seed)
    h, f, H, L_ = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps = cfg["norm_eps"]
    tok = W.normal("embeddings.tok_embeddings.weight", (VOCAB, h), 0.5, f16=True)
    nbias = cfg.get("norm_bias", False)  # every LayerNorm's shift (none in the released checkpoints)

    def norm(name):
        w = W.around(name + ".weight", (h,), 1.0, 0.3)
        return w, W.normal(name + ".bias", (h,), 0.1) if nbias else None

    en = norm("embeddings.norm")
    layers = []
    for l in range(L_):
        n = f"layers.{l}."
        layers.append(dict(
            an=None if l == 0 else norm(n + "attn_norm"),
            qkv=W.normal(n + "attn.Wqkv.weight", (3 * h, h), 0.25),
            wo=W.normal(n + "attn.Wo.weight", (h, h), 0.25),
            mn=norm(n + "mlp_norm"),
            wi=W.normal(n + "mlp.Wi.weight", (2 * f, h), 0.25),
            wo2=W.normal(n + "mlp.Wo.weight", (h, f), 0.25)))
    fn = norm("final_norm")

    def forward(ids, types):
        n = len(ids)
        x = layer_norm(tok[torch.tensor(ids)], *en, eps)
        r = torch.arange(n)
        dist = (r[:, None] - r[None, :]).abs()
        window = torch.where(dist <= cfg["local_attention"] // 2, 0.0, -math.inf)
        for l, L in enumerate(layers):
            local = l % cfg["global_attn_every_n_layers"] != 0
            hn = x if L["an"] is None else layer_norm(x, *L["an"], eps)
            q, k, v = (hn @ L["qkv"].T).split(h, dim=1)
            theta = cfg["local_rope_theta"] if local else cfg["global_rope_theta"]
            q, k = rotate(q, H, h // H, theta), rotate(k, H, h // H, theta)
            x = x + attention(q, k, v, H, window if local else None) @ L["wo"].T
            inp, gate = (layer_norm(x, *L["mn"], eps) @ L["wi"].T).chunk(2, dim=-1)
            x = x + (gelu(inp) * gate) @ L["wo2"].T
        return layer_norm(x, *fn, eps)

    return W, forward


# ---- nomic-bert (modeling_hf_nomic_bert.py) ----

def nomic(cfg, seed):
    W = Weights(seed)
    h, f, H = cfg["n_embd"], cfg["n_inner"], cfg["n_head"]
    eps = cfg["layer_norm_epsilon"]
    d = h // H
    rot = int(d * cfg["rotary_emb_fraction"])
    word = W.normal("embeddings.word_embeddings.weight", (VOCAB, h), 0.5, f16=True)
    typ = W.normal("embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], h))
    ln_w, ln_b = W.around("emb_ln.weight", (h,), 1.0, 0.3), W.normal("emb_ln.bias", (h,), 0.1)
    layers = []
    for l in range(cfg["n_layer"]):
        n = f"encoder.layers.{l}."
        L = dict(qkv=W.normal(n + "attn.Wqkv.weight", (3 * h, h), 0.25), out=W.normal(n + "attn.out_proj.weight", (h, h), 0.25),
                 fc11=W.normal(n + "mlp.fc11.weight", (f, h), 0.25), fc11b=W.normal(n + "mlp.fc11.bias", (f,), 0.1),
                 fc12=W.normal(n + "mlp.fc12.weight", (f, h), 0.25), fc12b=W.normal(n + "mlp.fc12.bias", (f,), 0.1),
                 fc2=W.normal(n + "mlp.fc2.weight", (h, f), 0.25), fc2b=W.normal(n + "mlp.fc2.bias", (h,), 0.1),
                 n1w=W.around(n + "norm1.weight", (h,), 1.0, 0.3), n1b=W.normal(n + "norm1.bias", (h,), 0.1),
                 n2w=W.around(n + "norm2.weight", (h,), 1.0, 0.3), n2b=W.normal(n + "norm2.bias", (h,), 0.1))
        layers.append(L)

    def forward(ids, types):
        x = layer_norm(word[torch.tensor(ids)] + typ[torch.tensor(types)], ln_w, ln_b, eps)
        for L in layers:
            q, k, v = (x @ L["qkv"].T).split(h, dim=1)  # "three-major": q, k, v blocks, heads inside each
            q, k = rotate(q, H, rot, cfg["rotary_emb_base"]), rotate(k, H, rot, cfg["rotary_emb_base"])
            x = layer_norm(x + attention(q, k, v, H) @ L["out"].T, L["n1w"], L["n1b"], eps)
            y = (x @ L["fc11"].T + L["fc11b"]) * torch.nn.functional.silu(x @ L["fc12"].T + L["fc12b"])
            x = layer_norm(x + y @ L["fc2"].T + L["fc2b"], L["n2w"], L["n2b"], eps)
        return x

    return W, forward


# ---- JinaBERT v2 (jina-bert-implementation modeling_bert.py) ----

def alibi_slopes(n):
    def power_of_2(m):
        start = 2 ** (-(2 ** -(math.log2(m) - 3)))
        return [start * start ** i for i in range(m)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    p = 2 ** math.floor(math.log2(n))
    return power_of_2(p) + alibi_slopes(2 * p)[0::2][: n - p]


def jina(cfg, seed):
    W = Weights(seed)
    h, f, H = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"]
    eps = cfg["layer_norm_eps"]
    word = W.normal("embeddings.word_embeddings.weight", (VOCAB, h), 0.5, f16=True)
    typ = W.normal("embeddings.token_type_embeddings.weight", (cfg["type_vocab_size"], h))
    ln_w, ln_b = W.around("embeddings.LayerNorm.weight", (h,), 1.0, 0.3), W.normal("embeddings.LayerNorm.bias", (h,), 0.1)
    layers = []
    for l in range(cfg["num_hidden_layers"]):
        n = f"encoder.layer.{l}."
        L = {}
        for m in ("query", "key", "value"):
            L[m] = (W.normal(f"{n}attention.self.{m}.weight", (h, h), 0.25), W.normal(f"{n}attention.self.{m}.bias", (h,), 0.1))
        L["o"] = (W.normal(n + "attention.output.dense.weight", (h, h), 0.25), W.normal(n + "attention.output.dense.bias", (h,), 0.1))
        L["on"] = (W.around(n + "attention.output.LayerNorm.weight", (h,), 1.0, 0.3), W.normal(n + "attention.output.LayerNorm.bias", (h,), 0.1))
        L["gated"] = W.normal(n + "mlp.gated_layers.weight", (2 * f, h), 0.25)
        L["wo"] = (W.normal(n + "mlp.wo.weight", (h, f), 0.25), W.normal(n + "mlp.wo.bias", (h,), 0.1))
        L["ln"] = (W.around(n + "mlp.layernorm.weight", (h,), 1.0, 0.3), W.normal(n + "mlp.layernorm.bias", (h,), 0.1))
        layers.append(L)
    slopes = torch.tensor(alibi_slopes(H))

    def forward(ids, types):
        n = len(ids)
        x = layer_norm(word[torch.tensor(ids)] + typ[torch.tensor(types)], ln_w, ln_b, eps)
        r = torch.arange(n)
        bias = -slopes[:, None, None] * (r[:, None] - r[None, :]).abs()[None].double()
        for L in layers:
            q, k, v = (x @ L[m][0].T + L[m][1] for m in ("query", "key", "value"))
            x = layer_norm(attention(q, k, v, H, bias) @ L["o"][0].T + L["o"][1] + x, L["on"][0], L["on"][1], eps)
            g = x @ L["gated"].T
            y = gelu(g[:, :f]) * g[:, f:]
            x = layer_norm(y @ L["wo"][0].T + L["wo"][1] + x, L["ln"][0], L["ln"][1], eps)
        return x

    return W, forward


MODELS = {
    "mobilebert": (mobilebert, 21, dict(
        architectures=["MobileBertModel"], model_type="mobilebert", vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=24, hidden_act="relu", max_position_embeddings=64, type_vocab_size=2,
        layer_norm_eps=1e-12, embedding_size=8, trigram_input=True, use_bottleneck=True, intra_bottleneck_size=24,
        use_bottleneck_attention=False, key_query_shared_bottleneck=True, num_feedforward_networks=3,
        normalization_type="no_norm", classifier_activation=True)),
    "mobilebert-variant": (mobilebert, 22, dict(
        architectures=["MobileBertModel"], model_type="mobilebert", vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2,
        num_attention_heads=3, intermediate_size=20, hidden_act="gelu", max_position_embeddings=64, type_vocab_size=2,
        layer_norm_eps=1e-12, embedding_size=24, trigram_input=False, use_bottleneck=True, intra_bottleneck_size=18,
        use_bottleneck_attention=True, key_query_shared_bottleneck=False, num_feedforward_networks=1,
        normalization_type="no_norm", classifier_activation=False)),
    "modernbert": (modernbert, 23, dict(
        architectures=["ModernBertModel"], model_type="modernbert", vocab_size=VOCAB, hidden_size=32, intermediate_size=24,
        num_hidden_layers=4, num_attention_heads=2, hidden_activation="gelu", max_position_embeddings=128, norm_eps=1e-5,
        norm_bias=False, attention_bias=False, mlp_bias=False, global_rope_theta=160000.0, local_rope_theta=10000.0,
        local_attention=8, global_attn_every_n_layers=3, pad_token_id=0)),
    "nomic": (nomic, 24, dict(
        architectures=["NomicBertModel"], model_type="nomic_bert", vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_inner=24,
        n_positions=128, activation_function="swiglu", rotary_emb_fraction=0.5, rotary_emb_base=1000, rotary_emb_interleaved=False,
        qkv_proj_bias=False, mlp_fc1_bias=True, mlp_fc2_bias=True, prenorm=False, type_vocab_size=2, layer_norm_epsilon=1e-12)),
    "jina": (jina, 25, dict(
        architectures=["JinaBertModel"], model_type="bert", vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2,
        num_attention_heads=6, intermediate_size=20, hidden_act="gelu", max_position_embeddings=128, type_vocab_size=2,
        layer_norm_eps=1e-12, position_embedding_type="alibi", feed_forward_type="geglu", emb_pooler="mean")),
}


# ---- Task heads (Hugging Face *ForSequenceClassification / *ForTokenClassification) ----
#
# Each head fixture is one of the encoders above with fresh weights under the task model's prefix (MobileBertFor*:
# "mobilebert.", ModernBertFor*: "model.", NomicBertFor* and JinaBertFor*: "bert.") plus the head's tensors, as the modeling
# code names them:
#   pooler   BertPooler / MobileBertPooler / NomicBertPooler: tanh(<prefix>pooler.dense([CLS])) (MobileBERT: only with
#            classifier_activation, else [CLS] itself), then classifier
#   modern   ModernBertPredictionHead on [CLS] or the mean of the rows (classifier_pooling): norm(act(head.dense(x)))
#            (head.dense bias: classifier_bias; head.norm: LayerNorm, bias norm_bias, eps norm_eps), then classifier;
#            token classification runs the same head on every row
#   token    classifier on every row
# The logits (float64) are stored per sequence ([labels]) or per token ([tokens][labels]).

NER = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]

HEADS = {
    "mobilebert-classify": dict(base="mobilebert", seed=41, prefix="mobilebert.", head="pooler",
                                architecture="MobileBertForSequenceClassification", labels=["negative", "neutral", "positive"]),
    # The teacher's normalization_type with a large layer_norm_eps, so that an epsilon in the wrong place shows.
    "mobilebert-ln-ner": dict(base="mobilebert", seed=42, prefix="mobilebert.", head="token",
                              architecture="MobileBertForTokenClassification", labels=NER,
                              config=dict(normalization_type="layer_norm", layer_norm_eps=0.05, classifier_activation=False)),
    "modernbert-mean-multilabel": dict(base="modernbert", seed=43, prefix="model.", head="modern",
                                       architecture="ModernBertForSequenceClassification", labels=["toxic", "obscene", "insult"],
                                       config=dict(classifier_pooling="mean", classifier_bias=True, classifier_activation="gelu",
                                                   problem_type="multi_label_classification")),
    "modernbert-rerank": dict(base="modernbert", seed=44, prefix="model.", head="modern",
                              architecture="ModernBertForSequenceClassification", labels=["LABEL_0"],
                              config=dict(classifier_pooling="cls", classifier_activation="gelu")),
    "modernbert-ner": dict(base="modernbert", seed=45, prefix="model.", head="modern", architecture="ModernBertForTokenClassification",
                           labels=NER, config=dict(classifier_activation="silu", classifier_bias=True, norm_bias=True)),
    "nomic-classify": dict(base="nomic", seed=46, prefix="bert.", head="pooler", architecture="NomicBertForSequenceClassification",
                           labels=["negative", "positive"]),
    "jina-rerank": dict(base="jina", seed=47, prefix="bert.", head="pooler", architecture="JinaBertForSequenceClassification",
                        labels=["LABEL_0"]),
    "jina-ner": dict(base="jina", seed=48, prefix="bert.", head="token", architecture="JinaBertForTokenClassification", labels=NER),
}


def with_head(name, spec):
    build, _, base_cfg = MODELS[spec["base"]]
    cfg = dict(base_cfg)
    cfg.update(spec.get("config", {}))
    cfg["architectures"] = [spec["architecture"]]
    labels = spec["labels"]
    cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
    cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    W, forward = build(cfg, spec["seed"])
    W.t = {spec["prefix"] + k: v for k, v in W.t.items()}
    W.f16 = {spec["prefix"] + k for k in W.f16}
    h = cfg.get("hidden_size", cfg.get("n_embd"))
    n = len(labels)
    kind = spec["head"]
    cls_w, cls_b = W.normal("classifier.weight", (n, h), 0.4), W.normal("classifier.bias", (n,), 0.1)
    classifier = lambda x: x @ cls_w.T + cls_b
    if kind == "pooler":
        if cfg.get("classifier_activation", True):
            pw, pb = W.normal(spec["prefix"] + "pooler.dense.weight", (h, h), 0.3), W.normal(spec["prefix"] + "pooler.dense.bias", (h,), 0.1)
            pool = lambda hs: torch.tanh(hs[0] @ pw.T + pb)
        else:
            pool = lambda hs: hs[0]
        head = lambda hs: classifier(pool(hs))
    elif kind == "token":
        head = lambda hs: classifier(hs)
    else:
        dw = W.normal("head.dense.weight", (h, h), 0.3)
        db = W.normal("head.dense.bias", (h,), 0.1) if cfg.get("classifier_bias", False) else None
        nw = W.around("head.norm.weight", (h,), 1.0, 0.3)
        nb = W.normal("head.norm.bias", (h,), 0.1) if cfg.get("norm_bias", False) else None
        act = {"gelu": gelu, "silu": torch.nn.functional.silu}[cfg.get("classifier_activation", "gelu")]

        def transform(x):
            y = x @ dw.T + (0 if db is None else db)
            return layer_norm(act(y), nw, nb, cfg.get("norm_eps", 1e-5))

        if spec["architecture"].endswith("ForTokenClassification"):
            head = lambda hs: classifier(transform(hs))
        elif cfg.get("classifier_pooling", "cls") == "mean":
            head = lambda hs: classifier(transform(hs.mean(0)))
        else:
            head = lambda hs: classifier(transform(hs[0]))
    return W, cfg, lambda ids, types: head(forward(ids, types))


def write(out, cfg, W, ids, types, key, values):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), W.t, W.f16)
    fmt = lambda v: [fmt(x) for x in v] if isinstance(v, list) else float("%.7g" % v)
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"ids": ids, "type_ids": types, key: [fmt(v) for v in values]}, f, separators=(",", ":"))


def main(root):
    for name, (build, seed, cfg) in MODELS.items():
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        W, forward = build(cfg, seed)
        ids, types = sequences(np.random.default_rng(seed + 100))
        if name == "modernbert":
            types = [[0] * len(t) for t in types]
        hidden = [forward(i, t).tolist() for i, t in zip(ids, types)]
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        write_safetensors(os.path.join(out, "model.safetensors"), W.t, W.f16)
        with open(os.path.join(out, "reference.json"), "w") as f:
            json.dump({"ids": ids, "type_ids": types,
                       "hidden": [[[float("%.7g" % v) for v in row] for row in seq] for seq in hidden]}, f, separators=(",", ":"))
        print(name, "hidden", [len(s) for s in hidden], "params", sum(int(np.prod(a.shape)) for a in W.t.values()))
    for name, spec in HEADS.items():
        W, cfg, logits = with_head(name, spec)
        ids, types = sequences(np.random.default_rng(spec["seed"] + 100))
        if spec["base"] == "modernbert":
            types = [[0] * len(t) for t in types]
        values = [logits(i, t).tolist() for i, t in zip(ids, types)]
        write(os.path.join(root, name), cfg, W, ids, types, "logits", values)
        print(name, spec["architecture"], "logits", [np.asarray(v).shape for v in values])

# Real-size shapes for throughput measurements (random weights, no reference): --bench NAME DIR.
BENCH = {
    # ModernBERT-base's shape (answerdotai/ModernBERT-base config.json) as a one-logit ModernBertForSequenceClassification
    # reranker; the vocabulary stays at the fixtures' 2100 rows (the cut tokenizer).
    "modernbert-base-rerank": dict(HEADS["modernbert-rerank"], seed=51, config=dict(
        hidden_size=768, intermediate_size=1152, num_hidden_layers=22, num_attention_heads=12, max_position_embeddings=8192,
        local_attention=128, global_attn_every_n_layers=3, classifier_pooling="cls", classifier_activation="gelu")),
}


def bench(name, out):
    W, cfg, _ = with_head(name, BENCH[name])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), W.t, W.f16)
    print(name, "params", sum(int(np.prod(a.shape)) for a in W.t.values()))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--bench":
        bench(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
