#!/usr/bin/python3
"""Writes the reference for ImagePreprocessorTest's DETR cases: DETR-style preprocessing of test-image.png
(37x29) and of its transpose (29x37), batched with padding and a pixel mask.

Run with Debian's python3-pil (Pillow 9.4.0) from this folder: /usr/bin/python3 make_detr_fixture.py
Output: detr-preprocess.json.

The steps are those Hugging Face documents for DetrImageProcessor.preprocess (resize with the shorter side to
size["shortest_edge"] unless the longer side would exceed size["longest_edge"], Pillow bilinear; rescale by
1/255; normalise with ImageNet's mean and std; pad every image at the top left of the batch's largest
height x width with zeros; pixel_mask 1 on the image, 0 on the padding). The size rule is written here from
that description (get_size_with_aspect_ratio), in Python floats.
"""
import json
from PIL import Image

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def detr_size(width, height, shortest, longest):
    """(width, height) after DETR's resize."""
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


def process(img, shortest, longest):
    w, h = detr_size(img.width, img.height, shortest, longest)
    if (w, h) != img.size:
        img = img.resize((w, h), resample=Image.BILINEAR)
    px = list(img.getdata())
    chans = [[(px[i][c] / 255.0 - MEAN[c]) / STD[c] for i in range(w * h)] for c in range(3)]
    return w, h, chans


src = Image.open("test-image.png").convert("RGB")
images = [src, src.transpose(Image.TRANSPOSE)]
cases = []
for shortest, longest in ((20, 25), (16, 40), (29, 100), (40, 45)):
    done = [process(img, shortest, longest) for img in images]
    W, H = max(d[0] for d in done), max(d[1] for d in done)
    values, mask = [], []
    for w, h, chans in done:
        for c in range(3):
            for y in range(H):
                for x in range(W):
                    values.append(round(chans[c][y * w + x], 6) if x < w and y < h else 0.0)
        for y in range(H):
            for x in range(W):
                mask.append(1 if x < w and y < h else 0)
    cases.append({"shortest_edge": shortest, "longest_edge": longest, "sizes": [[d[0], d[1]] for d in done],
                  "width": W, "height": H, "pixel_values": values, "pixel_mask": mask})
with open("detr-preprocess.json", "w") as f:
    json.dump({"pillow": "9.4.0", "images": ["test-image.png", "test-image.png transposed"], "cases": cases}, f)
