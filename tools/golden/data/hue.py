#!/usr/bin/env python3
"""Golden values for transform.AdjustHue from Python's colorsys.

torchvision's adjust_hue converts RGB to HSV, adds the hue factor modulo 1
and converts back with the formulas of colorsys (its _rgb2hsv/_hsv2rgb are
vectorised copies). This writes random pixels, hue factors and colorsys's
answers to data/transform/testdata/hue_golden.json.

Usage: python3 tools/golden/data/hue.py
"""
import colorsys
import json
import os
import random

rng = random.Random(20150102)
cases = []
for _ in range(200):
    rgb = [rng.random() for _ in range(3)]
    if rng.random() < 0.2:  # greys and saturated corners
        v = rng.random()
        rgb = [v, v, v] if rng.random() < 0.5 else [1.0, rng.random(), 0.0]
    h = rng.uniform(-0.5, 0.5)
    hh, s, v = colorsys.rgb_to_hsv(*rgb)
    out = colorsys.hsv_to_rgb((hh + h) % 1.0, s, v)
    cases.append({"rgb": rgb, "hue": h, "want": list(out)})

path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "data", "transform", "testdata", "hue_golden.json")
with open(path, "w") as f:
    json.dump({"source": "python colorsys", "cases": cases}, f, indent=0)
print(f"wrote {len(cases)} cases to {os.path.normpath(path)}")
