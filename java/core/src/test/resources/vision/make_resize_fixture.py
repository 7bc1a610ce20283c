#!/usr/bin/python3
"""Writes the Pillow reference for ImageResizeTest and ImagePreprocessorTest.

Run with Debian's python3-pil (Pillow 9.4.0): /usr/bin/python3 make_resize_fixture.py
Outputs: test-image.png (a deterministic 37x29 RGB image) and pillow-resize.json (Pillow's
resize of it for several filters and sizes, as flat RGB byte lists).
"""
import json
import random
from PIL import Image

random.seed(7)
W, H = 37, 29
img = Image.new("RGB", (W, H))
img.putdata([((x * 7 + y * 3) % 256, (x * y + random.randrange(40)) % 256, random.randrange(256))
             for y in range(H) for x in range(W)])
img.save("test-image.png")

cases = []
for name, code in (("NEAREST", 0), ("BILINEAR", 2), ("BICUBIC", 3)):
    for (w, h) in ((16, 16), (12, 20), (50, 40), (37, 11), (74, 29), (25, 20)):
        out = img.resize((w, h), resample=code)
        cases.append({"filter": name, "width": w, "height": h,
                      "rgb": [v for px in out.getdata() for v in px]})
with open("pillow-resize.json", "w") as f:
    json.dump({"pillow": Image.__version__ if hasattr(Image, "__version__") else "9.4.0",
               "source": "test-image.png", "cases": cases}, f)
