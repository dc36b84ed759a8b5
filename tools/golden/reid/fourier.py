"""Write fourier/testdata/fourier.json: FACT amplitude mixing and FDA
low-frequency swaps computed with numpy.fft, on C×H×W images.

amplitude_mix follows FACT's amplitude_mix_single (one direction, fixed
lambda, output clipped but not cast to uint8); fda follows
FDA_source_to_target_np with the result clipped to the image range.

Run with Debian's python3 (numpy 1.24): python3 tools/golden/reid/fourier.py
"""
import json
import sys

import numpy as np


def amplitude_mix(src, dst, lam, ratio, max_val):
    c, h, w = src.shape
    src_fft = np.fft.fft2(src, axes=(1, 2))
    dst_fft = np.fft.fft2(dst, axes=(1, 2))
    src_abs, src_pha = np.abs(src_fft), np.angle(src_fft)
    dst_abs = np.abs(dst_fft)
    h_crop = int(h * np.sqrt(ratio))
    w_crop = int(w * np.sqrt(ratio))
    h_start = h // 2 - h_crop // 2
    w_start = w // 2 - w_crop // 2
    src_abs = np.fft.fftshift(src_abs, axes=(1, 2))
    dst_abs = np.fft.fftshift(dst_abs, axes=(1, 2))
    src_abs_ = np.copy(src_abs)
    src_abs[:, h_start:h_start + h_crop, w_start:w_start + w_crop] = \
        lam * dst_abs[:, h_start:h_start + h_crop, w_start:w_start + w_crop] + \
        (1 - lam) * src_abs_[:, h_start:h_start + h_crop, w_start:w_start + w_crop]
    src_abs = np.fft.ifftshift(src_abs, axes=(1, 2))
    mix = src_abs * (np.e ** (1j * src_pha))
    mix = np.real(np.fft.ifft2(mix, axes=(1, 2)))
    return np.clip(mix, 0, max_val)


def low_freq_mutate_np(amp_src, amp_trg, L=0.1):
    a_src = np.fft.fftshift(amp_src, axes=(-2, -1))
    a_trg = np.fft.fftshift(amp_trg, axes=(-2, -1))
    _, h, w = a_src.shape
    b = (np.floor(np.amin((h, w)) * L)).astype(int)
    c_h = np.floor(h / 2.0).astype(int)
    c_w = np.floor(w / 2.0).astype(int)
    h1 = c_h - b
    h2 = c_h + b + 1
    w1 = c_w - b
    w2 = c_w + b + 1
    a_src[:, h1:h2, w1:w2] = a_trg[:, h1:h2, w1:w2]
    a_src = np.fft.ifftshift(a_src, axes=(-2, -1))
    return a_src


def fda(src_img, trg_img, L, max_val):
    fft_src_np = np.fft.fft2(src_img, axes=(-2, -1))
    fft_trg_np = np.fft.fft2(trg_img, axes=(-2, -1))
    amp_src, pha_src = np.abs(fft_src_np), np.angle(fft_src_np)
    amp_trg = np.abs(fft_trg_np)
    amp_src_ = low_freq_mutate_np(amp_src, amp_trg, L=L)
    fft_src_ = amp_src_ * np.exp(1j * pha_src)
    src_in_trg = np.real(np.fft.ifft2(fft_src_, axes=(-2, -1)))
    return np.clip(src_in_trg, 0, max_val)


def main(out):
    rng = np.random.default_rng(3)
    cases = []
    for (c, h, w), max_val in [((3, 8, 6), 1.0), ((1, 7, 9), 255.0), ((3, 16, 12), 255.0), ((2, 5, 5), 1.0)]:
        a = (rng.uniform(0, max_val, size=(c, h, w))).astype(np.float32)
        b = (rng.uniform(0, max_val, size=(c, h, w))).astype(np.float32)
        a = a.astype(np.float64)
        b = b.astype(np.float64)
        for lam, ratio in [(0.0, 1.0), (0.37, 1.0), (0.8, 0.5)]:
            cases.append({"op": "amplitude_mix", "a": a.tolist(), "b": b.tolist(), "lambda": lam,
                          "ratio": ratio, "max": max_val,
                          "want": amplitude_mix(a, b, lam, ratio, max_val).tolist()})
        for beta in [0.0, 0.1, 0.2, 0.35]:
            cases.append({"op": "fda", "a": a.tolist(), "b": b.tolist(), "beta": beta, "max": max_val,
                          "want": fda(a, b, beta, max_val).tolist()})
        spec = np.fft.fft2(a[0])
        cases.append({"op": "fft2", "a": a[:1].tolist(), "re": spec.real.tolist(), "im": spec.imag.tolist(),
                      "shift": np.fft.fftshift(a[0]).tolist(), "ishift": np.fft.ifftshift(a[0]).tolist()})
    json.dump({"numpy": np.__version__, "cases": cases}, open(out, "w"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fourier/testdata/fourier.json")
