"""How to encode the static twins' frames: bytes against visual quality, measured on the book's own labs.

    python tools/encodings.py                   # every lab, default settings, 7 frames each
    python tools/encodings.py ch05-pruning      # one lab

For each lab the default setting is run and `--frames` frames are rendered at the book's 2 pixels per CSS
px. Each way of encoding them is scored by the bytes a page would inline (base64 included, each distinct
image once) and by the structural similarity (SSIM, 1 = identical; grey levels, 8x8 windows) of what the
browser would show against the exact pixels. "layered" is what knobs.lab.twin does: a panel's background
and its transparent foreground of animated artists as two lossless WebP images, laid one over the other
by the browser. "1x webp q70 strip" is the book before issue 17 (one 80-dpi image for all panels), for
scale: its SSIM is against an upscaled copy, so it measures blur too.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import time

import numpy as np
from PIL import Image


def ssim(a: np.ndarray, b: np.ndarray, window: int = 8) -> float:
    """Mean SSIM of two RGB(A) images (as grey levels, over non-overlapping windows: enough to rank encodings)."""
    def grey(x):
        x = x[..., :3].astype(np.float64)
        return x @ np.array([0.299, 0.587, 0.114])

    a, b = grey(a), grey(b)
    h, w = (a.shape[0] // window) * window, (a.shape[1] // window) * window
    blocks = lambda x: x[:h, :w].reshape(h // window, window, w // window, window).swapaxes(1, 2)  # noqa: E731
    A, B = blocks(a), blocks(b)
    mu_a, mu_b = A.mean((2, 3)), B.mean((2, 3))
    var_a, var_b = A.var((2, 3)), B.var((2, 3))
    cov = ((A - mu_a[..., None, None]) * (B - mu_b[..., None, None])).mean((2, 3))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float((((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))).mean())


def encode(rgba: np.ndarray, how: str) -> bytes:
    image = Image.fromarray(rgba, "RGBA")
    out = io.BytesIO()
    if how.startswith("webp q"):
        image.convert("RGB").save(out, format="webp", quality=int(how.split("q")[1]), method=4)
    elif how.startswith("jpeg q"):
        image.convert("RGB").save(out, format="jpeg", quality=int(how.split("q")[1]))
    elif how == "png palette 256":
        image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            out, format="png", optimize=True)
    elif how == "png":
        image.save(out, format="png", optimize=True)
    elif how == "webp lossless":
        opaque = bool((rgba[..., 3] == 255).all())
        (image.convert("RGB") if opaque else image).save(out, format="webp", lossless=True, quality=50, method=4)
    else:
        raise ValueError(how)
    return out.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def over(background: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """The foreground laid over the background, as a browser composites two images."""
    alpha = foreground[..., 3:4].astype(np.float64) / 255
    rgb = foreground[..., :3] * alpha + background[..., :3] * (1 - alpha)
    return np.dstack([np.round(rgb).astype(np.uint8), np.full(rgb.shape[:2], 255, np.uint8)])


def b64_len(data: bytes) -> int:
    return len(base64.b64encode(data))


WHOLE = ["jpeg q85", "webp q70", "webp q90", "png palette 256", "png", "webp lossless"]


def measure(lab, frames: int) -> dict:
    from knobs.lab.lab import frame_steps

    lab.reset()
    steps = frame_steps(lab.steps, frames)
    panels_per_frame, layers_per_frame, old = [], [], []
    for step in steps:
        while lab.snapshot.step < step and lab.advance(draw=False):
            pass
        lab.redraw()
        panels_per_frame.append([p.pixels().copy() for p in lab.renderer.panels])
        layers_per_frame.append([p.layers() for p in lab.renderer.panels])
    results = {}
    for how in WHOLE:
        seen, size, scores, started = set(), 0, [], time.perf_counter()
        for panels in panels_per_frame:
            for pixels in panels:
                data = encode(pixels, how)
                if data not in seen:
                    seen.add(data)
                    size += b64_len(data)
                scores.append(ssim(pixels, decode(data)))
        results[how] = (size, float(np.mean(scores)), time.perf_counter() - started)
    seen, size, scores, started = set(), 0, [], time.perf_counter()
    for panels, layers in zip(panels_per_frame, layers_per_frame):
        for pixels, (background, foreground) in zip(panels, layers):
            shown = []
            for layer in (background, foreground):
                data = encode(layer, "webp lossless")
                key = hashlib.sha1(data).digest()
                if key not in seen:
                    seen.add(key)
                    size += b64_len(data)
                shown.append(decode(data))
            scores.append(ssim(pixels, over(*shown)))
    results["layered webp lossless (the book)"] = (size, float(np.mean(scores)), time.perf_counter() - started)
    # the book before: all panels in one 80-dpi strip (1x, about 40% of today's CSS size), lossy WebP q70
    size, scores = 0, []
    for panels in panels_per_frame:
        height = max(p.shape[0] for p in panels)
        strip = np.concatenate([np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)), constant_values=255)
                                for p in panels], axis=1)
        small = Image.fromarray(strip).resize((strip.shape[1] * 80 // 144 // 2 * 2, strip.shape[0] * 80 // 144),
                                              Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.convert("RGB").save(out, format="webp", quality=70, method=4)
        size += b64_len(out.getvalue())
        shown = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGBA").resize(
            (strip.shape[1], strip.shape[0]), Image.Resampling.BILINEAR))
        scores.append(ssim(strip, shown))
    results["1x webp q70 strip (before)"] = (size, float(np.mean(scores)), 0.0)
    return {"frames": len(steps), "panels": len(panels_per_frame[0]), "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labs", nargs="*", help="lab names (default: every lab)")
    parser.add_argument("--frames", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    from knobs.chapters import all_labs

    labs = all_labs()
    totals: dict[str, list] = {}
    for name in args.labs or sorted(labs):
        found = measure(labs[name](), args.frames)
        print(f"\n{name}: {found['frames']} frames x {found['panels']} panels")
        for how, (size, score, seconds) in found["results"].items():
            print(f"  {how:34s} {size / 1024:8.1f} KB  {size / 1024 / found['frames']:6.1f} KB/frame  "
                  f"SSIM {score:.4f}  {seconds:5.1f} s")
            totals.setdefault(how, []).append((size / found["frames"], score))
    print(f"\n{'all labs':36s}{'KB per frame':>14s}{'mean SSIM':>11s}")
    for how, rows in totals.items():
        print(f"  {how:34s}{np.mean([r[0] for r in rows]) / 1024:12.1f}{np.mean([r[1] for r in rows]):11.4f}")


if __name__ == "__main__":
    main()
