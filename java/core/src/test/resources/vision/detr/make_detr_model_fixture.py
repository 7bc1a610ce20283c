#!/usr/bin/python3
"""Reference for DetrModelTest: a small DETR (Carion et al. 2020) with the real ResNet-50 backbone, run by
torchvision and torch.nn in float64 on vision/test-image.png.

Run from this folder with Debian's python3-torch 1.13, python3-torchvision 0.14, python3-pil and python3-numpy:
    /usr/bin/python3 make_detr_model_fixture.py             # the fixture
    /usr/bin/python3 make_detr_model_fixture.py --r50 DIR   # DETR-R50's real shape (d_model 256, 6 + 6 layers, 8 heads,
                                                            # FFN 2048, 100 queries, 91 labels), random F16 weights, no
                                                            # reference: for measuring images/s (~83 MB, not committed)
Output: detr-small.json (config, the weight manifest, preprocessor settings, logits, boxes, detections, and a
padded-mask position embedding case).

Why a manifest instead of a weight file: ResNet-50 alone is 23.5 M parameters (94 MB in F32, 47 MB in F16),
far above what a fixture may weigh, and torchvision's resnet50 has fixed widths (a shallower HF ResNetConfig
would no longer be the topology DETR-R50 runs). So every tensor is generated from its name by a tiny
generator written on both sides (here in numpy, in the test in Java): value i of a tensor is
    offset + halfwidth * (2 u_i - 1),   u_i = (splitmix64_i >> 40) / 2^24,
computed in float64 and rounded to float32, where splitmix64_i is the i-th output (i from 1) of the
SplitMix64 sequence (Steele, Lea, Flood 2014: state += 0x9E3779B97F4A7C15; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
z = (z ^ z>>27) * 0x94D049BB133111EB; z ^ z>>31) started from FNV-1a-64(seed name) XOR SEED. The test writes
the tensors under HF's DetrForObjectDetection names (timm-style backbone names, or with "hf_name" the
HF/torchvision ResNetBackbone names) as safetensors and loads the directory like any model.

The reference is independent of Transfuse: torchvision.models.resnet50 (the timm names are torchvision's
under model.backbone.conv_encoder.model.), eval-mode BatchNorm with running statistics, and the DETR
transformer written here from the paper and HF's modeling_detr description with torch.nn.MultiheadAttention
(post-LN; position embeddings added to queries and keys, not values; object queries start at zero).
Post-processing follows HF's post_process_object_detection (softmax, drop the last "no object" class,
score > threshold, cx cy w h -> x0 y0 x1 y1 scaled to the original image size).
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

SEED = 20261205
PREFIX = "model.backbone.conv_encoder.model."
D_MODEL, HEADS, ENC_LAYERS, DEC_LAYERS, FFN, QUERIES = 64, 2, 2, 2, 128, 12
LABELS = {0: "cat", 1: "dog", 2: "bird"}
SHORTEST, LONGEST = 64, 96
THRESHOLD = 0.5
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
M64 = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def generate(seed_name, count, offset, halfwidth):
    """count float32 values of the shared generator (see the module docstring)."""
    start = np.uint64(fnv1a64(seed_name) ^ SEED)
    with np.errstate(over="ignore"):
        z = start + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (offset + halfwidth * (2.0 * u - 1.0)).astype(np.float32)


manifest = []  # entries: name, shape, offset, halfwidth (and hf_name for backbone tensors)
values = {}


def tensor(name, shape, offset, halfwidth, hf_name=None):
    count = int(np.prod(shape))
    v = generate(name, count, offset, halfwidth).reshape(shape)
    entry = {"name": name, "shape": list(shape), "offset": offset, "halfwidth": halfwidth}
    if hf_name:
        entry["hf_name"] = hf_name
    manifest.append(entry)
    values[name] = torch.from_numpy(v.astype(np.float64))
    return values[name]


# ---- the backbone: torchvision's resnet50, its parameters named as HF's timm-style DETR names them ----------
resnet = torchvision.models.resnet50().double().eval()
HF_BACKBONE = PREFIX  # the HF-style names share the prefix
def hf_conv(tv):
    """HF ResNetBackbone's name for a torchvision/timm resnet50 conv or bn module path."""
    if tv in ("conv1", "bn1"):
        return "embedder.embedder." + ("convolution" if tv == "conv1" else "normalization")
    parts = tv.split(".")  # layerL.B.conv2 / bn2 / downsample.0 / downsample.1
    stage, block = int(parts[0][5:]) - 1, int(parts[1])
    base = f"encoder.stages.{stage}.layers.{block}."
    if parts[2] == "downsample":
        return base + "shortcut." + ("convolution" if parts[3] == "0" else "normalization")
    k = int(parts[2][-1]) - 1
    return base + f"layer.{k}." + ("convolution" if parts[2].startswith("conv") else "normalization")




def write_r50(directory):
    """DETR-R50's shapes with the generator's values (fan-in scaled), as F16 safetensors written by hand."""
    import os
    import struct
    d, layers, heads, ffn, queries, labels = 256, 6, 8, 2048, 100, 91
    shapes = []
    for name, mod in resnet.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            shapes.append((PREFIX + name + ".weight", tuple(mod.weight.shape)))
        elif isinstance(mod, torch.nn.BatchNorm2d):
            for k in ("weight", "bias", "running_mean", "running_var"):
                shapes.append((PREFIX + name + "." + k, (mod.num_features,)))
    shapes += [("model.input_projection.weight", (d, 2048, 1, 1)), ("model.input_projection.bias", (d,)),
               ("model.query_position_embeddings.weight", (queries, d))]
    def lin(n, o, i):
        shapes.extend([(n + ".weight", (o, i)), (n + ".bias", (o,))])
    for part, count in (("encoder", layers), ("decoder", layers)):
        for i in range(count):
            p = f"model.{part}.layers.{i}."
            attns = ["self_attn"] + (["encoder_attn"] if part == "decoder" else [])
            for a in attns:
                for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    lin(p + a + "." + proj, d, d)
            lin(p + "fc1", ffn, d)
            lin(p + "fc2", d, ffn)
            for norm in ["self_attn_layer_norm", "final_layer_norm"] + (["encoder_attn_layer_norm"] if part == "decoder" else []):
                shapes.extend([(p + norm + ".weight", (d,)), (p + norm + ".bias", (d,))])
    shapes.extend([("model.decoder.layernorm.weight", (d,)), ("model.decoder.layernorm.bias", (d,))])
    lin("class_labels_classifier", labels + 1, d)
    lin("bbox_predictor.layers.0", d, d)
    lin("bbox_predictor.layers.1", d, d)
    lin("bbox_predictor.layers.2", 4, d)
    header, blobs, offset = {}, [], 0
    for name, shape in shapes:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        if name.endswith("running_var") or (len(shape) == 1 and name.endswith("weight")):
            v = generate(name, int(np.prod(shape)), 1.0, 0.3)
        elif len(shape) == 1:
            v = generate(name, int(np.prod(shape)), 0.0, 0.1)
        else:
            v = generate(name, int(np.prod(shape)), 0.0, math.sqrt(3.0 / fan_in))
        b = v.astype(np.float16).tobytes()
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    os.makedirs(directory, exist_ok=True)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    config = {"model_type": "detr", "architectures": ["DetrForObjectDetection"], "backbone": "resnet50", "use_timm_backbone": True,
              "d_model": d, "encoder_layers": layers, "decoder_layers": layers, "encoder_attention_heads": heads,
              "decoder_attention_heads": heads, "encoder_ffn_dim": ffn, "decoder_ffn_dim": ffn, "num_queries": queries,
              "id2label": {str(i): f"class {i}" for i in range(labels)}}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(directory, "preprocessor_config.json"), "w") as f:
        json.dump({"do_resize": True, "size": {"shortest_edge": 800, "longest_edge": 1333}, "do_normalize": True,
                   "image_mean": list(MEAN), "image_std": list(STD)}, f)


if len(sys.argv) == 3 and sys.argv[1] == "--r50":
    write_r50(sys.argv[2])
    sys.exit(0)

state = {}
for mod_name, mod in resnet.named_modules():
    if isinstance(mod, torch.nn.Conv2d):
        fan_in = mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        bound = math.sqrt(6.0 / fan_in)
        state[mod_name + ".weight"] = tensor(PREFIX + mod_name + ".weight", tuple(mod.weight.shape), 0.0, bound,
                                             HF_BACKBONE + hf_conv(mod_name) + ".weight")
    elif isinstance(mod, torch.nn.BatchNorm2d):
        c = mod.num_features
        last = mod_name.endswith("bn3") or mod_name.endswith("downsample.1")  # keep the residual sums tame
        hf = HF_BACKBONE + hf_conv(mod_name)
        state[mod_name + ".weight"] = tensor(PREFIX + mod_name + ".weight", (c,), 0.35 if last else 1.0, 0.15 if last else 0.3,
                                             hf + ".weight")
        state[mod_name + ".bias"] = tensor(PREFIX + mod_name + ".bias", (c,), 0.0, 0.2, hf + ".bias")
        state[mod_name + ".running_mean"] = tensor(PREFIX + mod_name + ".running_mean", (c,), 0.0, 0.3, hf + ".running_mean")
        state[mod_name + ".running_var"] = tensor(PREFIX + mod_name + ".running_var", (c,), 1.0, 0.5, hf + ".running_var")
        state[mod_name + ".num_batches_tracked"] = torch.tensor(0)
state["fc.weight"] = resnet.fc.weight.detach()
state["fc.bias"] = resnet.fc.bias.detach()
resnet.load_state_dict(state)


def linear(name, out_dim, in_dim, gain=1.0):
    w = tensor(name + ".weight", (out_dim, in_dim), 0.0, gain * math.sqrt(3.0 / in_dim))
    b = tensor(name + ".bias", (out_dim,), 0.0, 0.05)
    return w, b


def layer_norm(name, dim):
    return tensor(name + ".weight", (dim,), 1.0, 0.2), tensor(name + ".bias", (dim,), 0.0, 0.1)


proj_w = tensor("model.input_projection.weight", (D_MODEL, 2048, 1, 1), 0.0, math.sqrt(3.0 / 2048) * 2)
proj_b = tensor("model.input_projection.bias", (D_MODEL,), 0.0, 0.05)
query_pos = tensor("model.query_position_embeddings.weight", (QUERIES, D_MODEL), 0.0, 1.0)


def mha(name, gain=1.0):
    """torch.nn.MultiheadAttention with HF's q/k/v/out projections (gain: sharper attention)."""
    m = torch.nn.MultiheadAttention(D_MODEL, HEADS, dtype=torch.float64)
    q, qb = linear(name + ".q_proj", D_MODEL, D_MODEL, gain)
    k, kb = linear(name + ".k_proj", D_MODEL, D_MODEL, gain)
    v, vb = linear(name + ".v_proj", D_MODEL, D_MODEL)
    o, ob = linear(name + ".out_proj", D_MODEL, D_MODEL)
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.cat([q, k, v]))
        m.in_proj_bias.copy_(torch.cat([qb, kb, vb]))
        m.out_proj.weight.copy_(o)
        m.out_proj.bias.copy_(ob)
    return m.eval()


def ffn(name):
    return linear(name + ".fc1", FFN, D_MODEL), linear(name + ".fc2", D_MODEL, FFN)


enc = []
for i in range(ENC_LAYERS):
    p = f"model.encoder.layers.{i}"
    enc.append((mha(p + ".self_attn"), layer_norm(p + ".self_attn_layer_norm", D_MODEL), ffn(p),
                layer_norm(p + ".final_layer_norm", D_MODEL)))
dec = []
for i in range(DEC_LAYERS):
    p = f"model.decoder.layers.{i}"
    dec.append((mha(p + ".self_attn"), layer_norm(p + ".self_attn_layer_norm", D_MODEL), mha(p + ".encoder_attn", 3.0),
                layer_norm(p + ".encoder_attn_layer_norm", D_MODEL), ffn(p), layer_norm(p + ".final_layer_norm", D_MODEL)))
dec_norm = layer_norm("model.decoder.layernorm", D_MODEL)
cls_w, cls_b = linear("class_labels_classifier", len(LABELS) + 1, D_MODEL, gain=6.0)
bbox = [linear("bbox_predictor.layers.0", D_MODEL, D_MODEL), linear("bbox_predictor.layers.1", D_MODEL, D_MODEL),
        linear("bbox_predictor.layers.2", 4, D_MODEL, gain=2.0)]


def sine_position(mask, dim):
    """DETR's 2-D sine position embedding of a [H][W] 0/1 mask: [H*W][2 dim] (y half first, then x)."""
    m = mask.double()
    y = m.cumsum(0)
    x = m.cumsum(1)
    y = y / (y[-1:, :] + 1e-6) * 2 * math.pi
    x = x / (x[:, -1:] + 1e-6) * 2 * math.pi
    t = torch.arange(dim, dtype=torch.float64)
    t = 10000 ** (2 * torch.div(t, 2, rounding_mode="floor") / dim)
    px = x[:, :, None] / t
    py = y[:, :, None] / t
    px = torch.stack((px[:, :, 0::2].sin(), px[:, :, 1::2].cos()), dim=3).flatten(2)
    py = torch.stack((py[:, :, 0::2].sin(), py[:, :, 1::2].cos()), dim=3).flatten(2)
    return torch.cat((py, px), dim=2).reshape(-1, 2 * dim)


def ln(x, wb):
    return F.layer_norm(x, (D_MODEL,), wb[0], wb[1], 1e-5)


def run_ffn(x, f):
    (w1, b1), (w2, b2) = f
    return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)


def attend(m, q, k, v):
    return m(q[:, None, :], k[:, None, :], v[:, None, :], need_weights=False)[0][:, 0, :]


def detr_size(width, height, shortest, longest):
    """(width, height) after DETR's resize (HF get_size_with_aspect_ratio, as in ../make_detr_fixture.py)."""
    lo, hi = float(min(width, height)), float(max(width, height))
    size, raw = shortest, None
    if hi / lo * size > longest:
        raw = longest * lo / hi
        size = int(round(raw))
    if (height <= width and height == size) or (width <= height and width == size):
        return width, height
    if width < height:
        return size, int(raw * height / width) if raw is not None else int(size * height / width)
    return int(raw * width / height) if raw is not None else int(size * width / height), size


src = Image.open("../test-image.png").convert("RGB")
w, h = detr_size(src.width, src.height, SHORTEST, LONGEST)
img = src.resize((w, h), resample=Image.BILINEAR)
px = np.asarray(img, dtype=np.float64) / 255.0
px = (px - np.array(MEAN)) / np.array(STD)
pixels = torch.from_numpy(px.transpose(2, 0, 1).copy())[None]

with torch.no_grad():
    r = resnet
    f = r.maxpool(r.relu(r.bn1(r.conv1(pixels))))
    f = r.layer4(r.layer3(r.layer2(r.layer1(f))))
    fh, fw = f.shape[2], f.shape[3]
    memory = F.conv2d(f, proj_w, proj_b)[0].reshape(D_MODEL, -1).t()  # [HW][d]
    pos = sine_position(torch.ones(fh, fw), D_MODEL // 2)
    for m, ln1, fn, ln2 in enc:
        qk = memory + pos
        memory = ln(memory + attend(m, qk, qk, memory), ln1)
        memory = ln(memory + run_ffn(memory, fn), ln2)
    x = torch.zeros(QUERIES, D_MODEL, dtype=torch.float64)
    for sa, ln1, ca, ln2, fn, ln3 in dec:
        qk = x + query_pos
        x = ln(x + attend(sa, qk, qk, x), ln1)
        x = ln(x + attend(ca, x + query_pos, memory + pos, memory), ln2)
        x = ln(x + run_ffn(x, fn), ln3)
    x = ln(x, dec_norm)
    logits = F.linear(x, cls_w, cls_b)
    b = F.relu(F.linear(x, *bbox[0]))
    b = F.relu(F.linear(b, *bbox[1]))
    boxes = torch.sigmoid(F.linear(b, *bbox[2]))

    prob = logits.softmax(-1)
    scores, labels = prob[:, :-1].max(-1)
    cx, cy, bw, bh = boxes.unbind(-1)
    corners = torch.stack([cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh], -1)
    corners = corners * torch.tensor([src.width, src.height, src.width, src.height], dtype=torch.float64)
    detections = [{"query": i, "label": LABELS[int(labels[i])], "label_id": int(labels[i]), "score": float(scores[i]),
                   "box": [float(v) for v in corners[i]]} for i in range(QUERIES) if scores[i] > THRESHOLD]

    mask = torch.zeros(3, 4)
    mask[:2, :3] = 1
    masked_pos = sine_position(mask, 4)

print("feature map", fh, "x", fw, "image", w, "x", h, "backbone |f| max", float(f.abs().max()))
print("scores", [round(float(s), 3) for s in scores], [int(l) for l in labels], "detections", len(detections))
config = {"model_type": "detr", "architectures": ["DetrForObjectDetection"], "backbone": "resnet50", "use_timm_backbone": True,
          "d_model": D_MODEL, "encoder_layers": ENC_LAYERS, "decoder_layers": DEC_LAYERS, "encoder_attention_heads": HEADS,
          "decoder_attention_heads": HEADS, "encoder_ffn_dim": FFN, "decoder_ffn_dim": FFN, "num_queries": QUERIES,
          "activation_function": "relu", "position_embedding_type": "sine", "dilation": False, "num_channels": 3,
          "id2label": {str(k): v for k, v in LABELS.items()}, "label2id": {v: k for k, v in LABELS.items()}}
preprocessor = {"do_resize": True, "size": {"shortest_edge": SHORTEST, "longest_edge": LONGEST}, "resample": 2,
                "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": list(MEAN),
                "image_std": list(STD), "do_pad": True, "image_processor_type": "DetrImageProcessor"}
out = {"seed": SEED, "generator": "splitmix64(fnv1a64(name) ^ seed), see make_detr_model_fixture.py",
       "config": config, "preprocessor_config": preprocessor, "manifest": manifest,
       "image": "vision/test-image.png", "image_size": [src.width, src.height], "input_size": [w, h],
       "feature_size": [fw, fh], "threshold": THRESHOLD,
       "logits": [[float(v) for v in row] for row in logits], "boxes": [[float(v) for v in row] for row in boxes],
       "detections": detections,
       "masked_position": {"mask": [[int(v) for v in row] for row in mask], "dim": 8,
                           "values": [[round(float(v), 9) for v in row] for row in masked_pos]}}
with open("detr-small.json", "w") as fh_:
    json.dump(out, fh_, separators=(",", ":"))
