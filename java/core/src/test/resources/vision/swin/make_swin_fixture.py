#!/usr/bin/python3
"""Writes the Swin reference for SwinModelTest / SwinCudaEmuTest from torchvision's independent Swin.

Run with Debian's python3-torchvision (torchvision 0.14, torch 1.13; not a pyenv python), from this folder:
    /usr/bin/python3 make_swin_fixture.py                       # the fixture: swin-tiny/ + swin-tiny-logits.json
    /usr/bin/python3 make_swin_fixture.py --swin-t DIR          # Swin-T's real shape, random weights, no logits
                                                                # (for measuring images/s; ~110 MB, not committed)
    /usr/bin/python3 make_swin_fixture.py --v2                  # Swin-V2: swinv2-tiny/ + swinv2-tiny-logits.json

Swin-V2 (torchvision's SwinTransformer with SwinTransformerBlockV2 / PatchMergingV2, as swin_v2_t builds it;
HF Swinv2ForImageClassification names, model_type "swinv2"): the same small shape with window 8 and image 128
(grids 32, 16, 8). Differences handled by the mapping: torchvision's qkv bias has a K part that its forward zeroes
(shifted_window_attention, logit_scale given), HF's key has no bias, so only Q and V biases are written;
attn.logit_scale [heads][1][1] and attn.cpb_mlp.{0,2} are HF's attention.self.logit_scale and
continuous_position_bias_mlp.{0,2}; PatchMergingV2's norm (after the reduction, 2C wide) is downsample.norm.
Both compute the log-spaced coordinates with window - 1 (HF: pretrained_window_sizes 0).

The fixture model is swin_t-shaped but small: patch 4, embed_dim 32, depths [2, 2, 2], heads [1, 2, 4] (head
dim 32 as in every Swin V1), window 7, image 112 (token grids 28, 14, 7: W-MSA and SW-MSA with the shift mask
in stages 1-2, one unshifted window in stage 3), 10 classes. Every parameter is redrawn (the relative position
bias tables with std 1, so that a wrong index or a missing mask moves the logits by O(1)) and rounded to F16,
the type stored; torchvision then runs in float64 on those rounded values.

Layout differences handled by the mapping (torchvision/models/swin_transformer.py vs
transformers/models/swin/modeling_swin.py):
  - torchvision fuses Q, K and V in attn.qkv ([3C][C], rows q | k | v, heads contiguous inside each);
    HF has attention.self.query / key / value: the three row blocks.
  - torchvision's features list interleaves stages and PatchMerging (features.1, features.2 = merge, ...);
    HF keeps the merge as the stage's downsample (encoder.layers.N.downsample, N < last).
  - Patch merging concatenates x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2] (rows first) in
    both (torchvision _patch_merging_pad, HF SwinPatchMerging.forward), so reduction/norm map unchanged.
  - MLP: torchvision mlp.0 / mlp.3 = HF intermediate.dense / output.dense; norm1 / norm2 = layernorm_before /
    layernorm_after; features.0.0 / features.0.2 = embeddings.patch_embeddings.projection / embeddings.norm.
  - The shift: both roll by -window/2 in odd blocks and drop it when the grid is not larger than the window
    (HF also clamps the window to the grid; equal here).
The image: ../test-image.png resized with Pillow's bicubic filter to 112x112, rescaled by 1/255 and normalised
with the ImageNet mean/std, exactly as preprocessor_config.json tells ImagePreprocessor.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image
from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def build(embed, depths, heads, window, classes, seed, image, v2=False):
    torch.manual_seed(seed)
    extra = {"block": SwinTransformerBlockV2, "downsample_layer": PatchMergingV2} if v2 else {}
    m = SwinTransformer(patch_size=[4, 4], embed_dim=embed, depths=depths, num_heads=heads,
                        window_size=[window, window], stochastic_depth_prob=0.0, num_classes=classes, **extra)
    m.eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("relative_position_bias_table"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("logit_scale"):  # around log(10), some above the clamp log(100)
                p.copy_(torch.log(torch.tensor(10.0)) + 2.5 * torch.rand(p.shape, generator=g))
            elif "cpb_mlp" in name:  # std 1 inputs in [-1, 1]: an O(1) bias before 16 sigmoid(.)
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if p.dim() == 1 or p.shape[1] == 2 else 0.1))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:  # linear / conv weights: std 1/sqrt(fan_in) keeps activations O(1)
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
    return m


def hf_tensors(m, depths):
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    used = set()

    class Recording(dict):  # notes which torchvision tensors the mapping read
        def __getitem__(self, k):
            used.add(k)
            return state[k]
    sd = Recording()
    out = {"swin.embeddings.patch_embeddings.projection.weight": sd["features.0.0.weight"],
           "swin.embeddings.patch_embeddings.projection.bias": sd["features.0.0.bias"],
           "swin.embeddings.norm.weight": sd["features.0.2.weight"],
           "swin.embeddings.norm.bias": sd["features.0.2.bias"]}
    for s, depth in enumerate(depths):
        for b in range(depth):
            tv, hf = f"features.{1 + 2 * s}.{b}.", f"swin.encoder.layers.{s}.blocks.{b}."
            qkv_w, qkv_b = sd[tv + "attn.qkv.weight"], sd[tv + "attn.qkv.bias"]
            c = qkv_w.shape[1]
            for i, part in enumerate(("query", "key", "value")):
                out[hf + f"attention.self.{part}.weight"] = qkv_w[i * c:(i + 1) * c]
                out[hf + f"attention.self.{part}.bias"] = qkv_b[i * c:(i + 1) * c]
            out[hf + "attention.self.relative_position_bias_table"] = sd[tv + "attn.relative_position_bias_table"]
            out[hf + "attention.output.dense.weight"] = sd[tv + "attn.proj.weight"]
            out[hf + "attention.output.dense.bias"] = sd[tv + "attn.proj.bias"]
            for a, h in (("norm1", "layernorm_before"), ("norm2", "layernorm_after")):
                out[hf + h + ".weight"] = sd[tv + a + ".weight"]
                out[hf + h + ".bias"] = sd[tv + a + ".bias"]
            for a, h in (("mlp.0", "intermediate.dense"), ("mlp.3", "output.dense")):
                out[hf + h + ".weight"] = sd[tv + a + ".weight"]
                out[hf + h + ".bias"] = sd[tv + a + ".bias"]
        if s < len(depths) - 1:
            tv, hf = f"features.{2 + 2 * s}.", f"swin.encoder.layers.{s}.downsample."
            out[hf + "reduction.weight"] = sd[tv + "reduction.weight"]
            out[hf + "norm.weight"] = sd[tv + "norm.weight"]
            out[hf + "norm.bias"] = sd[tv + "norm.bias"]
    out["swin.layernorm.weight"], out["swin.layernorm.bias"] = sd["norm.weight"], sd["norm.bias"]
    out["classifier.weight"], out["classifier.bias"] = sd["head.weight"], sd["head.bias"]
    left = [k for k in state if k not in used and "relative_position_index" not in k]
    assert not left, f"torchvision tensors not mapped: {left}"
    return out


def hf_v2_tensors(m, depths):
    """torchvision's V2 names to HF Swinv2ForImageClassification's (see the module docstring)."""
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    used = set()

    def sd(k):
        used.add(k)
        return state[k]
    out = {"swinv2.embeddings.patch_embeddings.projection.weight": sd("features.0.0.weight"),
           "swinv2.embeddings.patch_embeddings.projection.bias": sd("features.0.0.bias"),
           "swinv2.embeddings.norm.weight": sd("features.0.2.weight"),
           "swinv2.embeddings.norm.bias": sd("features.0.2.bias")}
    for s, depth in enumerate(depths):
        for b in range(depth):
            tv, hf = f"features.{1 + 2 * s}.{b}.", f"swinv2.encoder.layers.{s}.blocks.{b}."
            qkv_w, qkv_b = sd(tv + "attn.qkv.weight"), sd(tv + "attn.qkv.bias")
            c = qkv_w.shape[1]
            for i, part in enumerate(("query", "key", "value")):
                out[hf + f"attention.self.{part}.weight"] = qkv_w[i * c:(i + 1) * c]
                if part != "key":  # zeroed by torchvision's forward, absent in HF
                    out[hf + f"attention.self.{part}.bias"] = qkv_b[i * c:(i + 1) * c]
            out[hf + "attention.self.logit_scale"] = sd(tv + "attn.logit_scale")
            out[hf + "attention.self.continuous_position_bias_mlp.0.weight"] = sd(tv + "attn.cpb_mlp.0.weight")
            out[hf + "attention.self.continuous_position_bias_mlp.0.bias"] = sd(tv + "attn.cpb_mlp.0.bias")
            out[hf + "attention.self.continuous_position_bias_mlp.2.weight"] = sd(tv + "attn.cpb_mlp.2.weight")
            out[hf + "attention.output.dense.weight"] = sd(tv + "attn.proj.weight")
            out[hf + "attention.output.dense.bias"] = sd(tv + "attn.proj.bias")
            for a, h in (("norm1", "layernorm_before"), ("norm2", "layernorm_after"),
                         ("mlp.0", "intermediate.dense"), ("mlp.3", "output.dense")):
                out[hf + h + ".weight"] = sd(tv + a + ".weight")
                out[hf + h + ".bias"] = sd(tv + a + ".bias")
        if s < len(depths) - 1:
            tv, hf = f"features.{2 + 2 * s}.", f"swinv2.encoder.layers.{s}.downsample."
            out[hf + "reduction.weight"] = sd(tv + "reduction.weight")
            out[hf + "norm.weight"] = sd(tv + "norm.weight")
            out[hf + "norm.bias"] = sd(tv + "norm.bias")
    out["swinv2.layernorm.weight"], out["swinv2.layernorm.bias"] = sd("norm.weight"), sd("norm.bias")
    out["classifier.weight"], out["classifier.bias"] = sd("head.weight"), sd("head.bias")
    left = [k for k in state if k not in used and "relative_position_index" not in k and "relative_coords_table" not in k]
    assert not left, f"torchvision tensors not mapped: {left}"
    return out


def write_safetensors(path, tensors, dtype):
    """The safetensors format (github.com/huggingface/safetensors, README 'Format'): u64 LE header size, JSON
    header {name: {dtype, shape, data_offsets}}, then the raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].to(torch.float16 if dtype == "F16" else torch.float32).numpy()
        b = a.astype("<f2" if dtype == "F16" else "<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_model(d, m, embed, depths, heads, window, image, classes, dtype, v2=False):
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), (hf_v2_tensors if v2 else hf_tensors)(m, depths), dtype)
    config = {"architectures": ["Swinv2ForImageClassification" if v2 else "SwinForImageClassification"],
              "model_type": "swinv2" if v2 else "swin", "image_size": image,
              "patch_size": 4, "num_channels": 3, "embed_dim": embed, "depths": depths, "num_heads": heads,
              "window_size": window, "mlp_ratio": 4.0, "qkv_bias": True, "hidden_act": "gelu",
              "layer_norm_eps": 1e-5, "use_absolute_embeddings": False, "encoder_stride": 32,
              "id2label": {str(i): f"class {i}" for i in range(classes)},
              "label2id": {f"class {i}": i for i in range(classes)}}
    if v2:
        config["pretrained_window_sizes"] = [0] * len(depths)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    pre = {"do_resize": True, "size": {"height": image, "width": image}, "resample": 3, "do_rescale": True,
           "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": MEAN, "image_std": STD,
           "image_processor_type": "ViTImageProcessor"}
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=1)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--swin-t":
        m = build(96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 1000, 5, 224)
        write_model(sys.argv[2], m, 96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 224, 1000, "F32")
        return
    v2 = len(sys.argv) == 2 and sys.argv[1] == "--v2"
    name = "swinv2-tiny" if v2 else "swin-tiny"
    embed, depths, heads, window, image, classes = 32, [2, 2, 2], [1, 2, 4], 8 if v2 else 7, 128 if v2 else 112, 10
    m = build(embed, depths, heads, window, classes, 3 if v2 else 1, image, v2)
    with torch.no_grad():  # the stored F16 values are the model
        for p in m.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))
    write_model(name, m, embed, depths, heads, window, image, classes, "F16", v2)
    img = Image.open("../test-image.png").convert("RGB").resize((image, image), resample=Image.BICUBIC)
    x = np.asarray(img, dtype=np.float64) / 255.0
    x = (x - np.array(MEAN)) / np.array(STD)
    x = torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)
    with torch.no_grad():
        logits = m.double()(x)[0]
    top = torch.topk(logits, 5).indices.tolist()
    probs = torch.softmax(logits, 0)
    with open(name + "-logits.json", "w") as f:
        json.dump({"generator": "make_swin_fixture.py (torchvision " + __import__("torchvision").__version__
                   + ", torch " + torch.__version__ + ", float64)", "image": "../test-image.png",
                   "logits": logits.tolist(), "top5": top, "top5_probabilities": [probs[i].item() for i in top]},
                  f, indent=1)
    print("top-5", top, [round(probs[i].item(), 4) for i in top])


if __name__ == "__main__":
    main()
