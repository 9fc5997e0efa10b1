"""The static twin of a lab: the same knobs over precomputed frames, for the HTML book.

At build time every combination of the controls' `twin` values is run once and `lab.twin_frames`
frames of it are rendered with the same views as the live lab. Each view is a panel of its own
(laid out side by side on a wide screen, one under another on a phone), rendered at 2 pixels per
CSS px and kept as two layers: its background (axes, ticks, labels: what a full redraw draws) and
a transparent foreground (the animated artists). Both are lossless WebP (smaller than lossy WebP
for flat-coloured plots, and exact; tools/encodings.py measures the choice), and each distinct
image is inlined once however many frames use it: a background is shared by every frame of a run,
often by several runs. A ~150-line JS player (twin.js, inlined too: no network request, no kernel)
swaps the layers when a knob moves. Native <input type=range>, <select> and <button> elements make
it keyboard and touch operable and labelled for screen readers; every panel has its view's alt
text, an aria-live line says the settings and the step, and the whole description is folded away
under "Describe this picture".
"""
from __future__ import annotations

import hashlib
import html
import itertools
import json
from importlib import resources

from knobs.figures import DPI, data_uri, encode_rgba
from knobs.lab.lab import Lab
from knobs.runtime import progress as progress_bar
from knobs.validate import check_bool, check_instance, check_int, fail

TWIN_INSET = 9  # CSS px between a twin's edge and its panels (border and padding): the panels' column is this narrower

# Colours come from the book theme's variables (light and dark), with fallbacks for any other page.
TWIN_CSS = (
    ".knobs-twin{--k-line:var(--pst-color-border,#c8c8c8);--k-muted:var(--pst-color-text-muted,#555);"
    f"border:1px solid var(--k-line);border-radius:6px;padding:{TWIN_INSET - 1}px;margin:1em 0;max-width:100%;"
    "box-sizing:border-box}"
    ".knobs-twin p{margin:0}.knobs-twin-title{margin-bottom:.4rem!important}"
    ".knobs-twin-controls{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,15rem),1fr));"
    "gap:.2rem 1.2rem;margin-bottom:.3rem}"
    ".knobs-twin-knob{display:grid;grid-template-columns:minmax(0,1fr) minmax(3.6em,auto);align-items:center;"
    "column-gap:.5rem;min-width:0}"
    ".knobs-twin-knob label{grid-column:1/-1;font-size:.9em;line-height:1.2;padding-top:.2rem}"
    ".knobs-twin-knob input,.knobs-twin-knob select{width:100%;min-width:0;min-height:2.25rem;box-sizing:border-box;"
    "margin:0}"
    ".knobs-twin-knob select{grid-column:1/-1;font:inherit;font-size:.95em}"
    ".knobs-twin-knob output{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".knobs-twin-fixed{grid-column:1/-1;font-size:.85em;color:var(--k-muted)}"
    ".knobs-twin-player{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.3rem 1.2rem}"
    ".knobs-twin-player>.knobs-twin-knob{flex:1 1 14rem}"
    ".knobs-twin-buttons{display:flex;flex:0 0 auto;align-items:center;gap:.4rem;flex-wrap:nowrap}"
    ".knobs-twin button{min-height:2.25rem;min-width:4.6rem;padding:.2rem .8rem;font:inherit;border-radius:4px;"
    "border:1px solid var(--k-line);background:var(--pst-color-surface,#f3f3f3);color:inherit;cursor:pointer}"
    ".knobs-twin-speed{font-size:.9em;white-space:nowrap}"
    ".knobs-twin-speed select{min-height:2.25rem;font:inherit;margin-left:.3rem}"
    ".knobs-twin-panels{display:flex;flex-wrap:wrap;justify-content:center;align-items:flex-start;gap:8px;"
    "margin:.5rem 0 .3rem}"  # flex-start: a short panel next to a tall one keeps its height (its background too)
    ".knobs-twin-panel{flex:0 1 auto;max-width:100%;background:#fff no-repeat;background-size:100% 100%;"
    "line-height:0;border-radius:3px}"
    ".knobs-twin .knobs-twin-panel img{display:block;width:100%;height:auto;max-width:100%;padding:0;margin:0;"
    "background:transparent;border-radius:0;filter:none}"
    ".knobs-twin-status{font-size:.85em;color:var(--k-muted);min-height:1.3em}"
    ".knobs-twin-describe{font-size:.85em;margin-top:.2rem}.knobs-twin-describe summary{cursor:pointer;"
    "color:var(--k-muted);min-height:1.5rem}"
    ".knobs-twin-description{margin-top:.3rem!important}"
    # the theme's dark mode paints an HTML output (and every image in it) as a light box: not around a twin,
    # whose panels are light cards on purpose (dimmed a little, like the theme's own images)
    "html[data-theme=dark] .bd-content div.cell_output .text_html.text_html:has(.knobs-twin){background:none;"
    "color:inherit;padding:0}"
    "html[data-theme=dark] .bd-content .knobs-twin .knobs-twin-panel img.knobs-twin-frame{background:transparent;"
    "padding:0;border-radius:0;filter:none}"
    "html[data-theme=dark] .knobs-twin-panel,body[data-jp-theme-light=false] .knobs-twin-panel{filter:brightness(.88)}"
)


class ImagePool:
    """Every distinct image of a twin, encoded once: frames refer to images by index."""

    def __init__(self):
        self.uris: list[str] = []
        self._index: dict[bytes, int] = {}
        self.largest = 0  # bytes of the largest encoded image

    def add(self, rgba) -> int:
        key = hashlib.sha1(rgba.tobytes()).digest() + bytes(str(rgba.shape), "ascii")
        if key not in self._index:
            data = encode_rgba(rgba, "webp")
            self.largest = max(self.largest, len(data))
            self._index[key] = len(self.uris)
            self.uris.append(data_uri(data, "webp"))
        return self._index[key]


def render_setting(lab, values: dict, wanted_steps: list[int], pool: ImagePool) -> list[dict]:
    """At each wanted step of one run (held at the last frame once a run stops): each panel's [background,
    foreground] image, each panel's alt text, and the one-line summary."""
    check_instance("lab", lab, Lab, "a Lab")
    if not isinstance(wanted_steps, (list, tuple)):
        fail("wanted_steps", "a list of steps", wanted_steps)
    for step in wanted_steps:
        check_int("wanted_steps (each step)", step, 0)
    check_instance("pool", pool, ImagePool, "an ImagePool")
    lab.reset(values)  # same chunking as the live lab, so curves have the same detail
    frames = []
    for step in wanted_steps:
        while lab.snapshot.step < step and lab.advance(draw=False):
            pass
        lab.redraw()
        layers = [[pool.add(layer) for layer in panel.layers()] for panel in lab.renderer.panels]
        frames.append({"img": layers, "alt": lab.panel_descriptions(), "text": lab.summary()})
    return frames


def twin_data(lab, progress: bool = True) -> dict:
    """Everything the player needs, as one JSON-able dict (images inlined as data URIs)."""
    check_instance("lab", lab, Lab, "a Lab")
    check_bool("progress", progress)
    steps = lab.twin_steps()
    grid = list(itertools.product(*(range(len(c.twin)) for c in lab.controls)))
    pool, frames = ImagePool(), {}
    for index in progress_bar(grid, f"precomputing {lab.name}", show=progress):
        values = {c.name: c.twin[i] for c, i in zip(lab.controls, index)}
        frames[",".join(map(str, index))] = render_setting(lab, values, steps, pool)
    defaults = [c.twin.index(c.default) if c.default in c.twin else 0 for c in lab.controls]
    return {
        "title": lab.title,
        "controls": [{"name": c.name, "label": c.label, "values": [c.fmt.format(v) for v in c.twin]}
                     for c in lab.controls],
        "steps": steps, "defaults": defaults, "play_seconds": lab.play_seconds,
        "panels": [{"w": w, "h": h} for w, h in lab.renderer.css_sizes()], "dpi": DPI,
        "images": pool.uris, "frames": frames, "largest_image": pool.largest,
    }


def describe(data: dict, frame: dict) -> str:
    """The whole description of a frame (what twin.js shows under "Describe this picture")."""
    if not isinstance(data, dict) or "title" not in data:
        fail("data", "a twin's data (twin_data(lab))", data)
    if not isinstance(frame, dict) or not {"text", "alt"} <= set(frame):
        fail("frame", "one frame of a twin's data (with 'text' and 'alt')", frame)
    return f"{data['title']}. {frame['text']} " + " ".join(frame["alt"])


def build_twin_html(lab, progress: bool = True) -> str:
    data = twin_data(lab, progress)
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    first = data["frames"][",".join(map(str, data["defaults"]))][0]
    panels = "".join(
        f'<div class="knobs-twin-panel" style="width:{p["w"]}px;background-image:url({data["images"][bg]})">'
        f'<img class="knobs-twin-frame dark-light" src="{data["images"][fg]}" alt="{html.escape(alt)}" '
        f'width="{p["w"]}" height="{p["h"]}"></div>'
        for p, (bg, fg), alt in zip(data["panels"], first["img"], first["alt"]))
    player = resources.files("knobs.lab").joinpath("twin.js").read_text()
    uid = html.escape(lab.name)
    return (
        f'<style>{TWIN_CSS}</style>'
        f'<div class="knobs-twin" id="twin-{uid}" role="group" aria-label="{html.escape(lab.title)} (precomputed lab)">'
        f'<p class="knobs-twin-title"><strong>{html.escape(lab.title)}</strong> '
        f'<em>(precomputed: turn the knobs, no kernel needed)</em></p>'
        f'<div class="knobs-twin-controls"></div><div class="knobs-twin-player"></div>'
        f'<div class="knobs-twin-panels">{panels}</div>'
        f'<p class="knobs-twin-status" aria-live="polite">{html.escape(first["text"])}</p>'
        f'<details class="knobs-twin-describe"><summary>Describe this picture</summary>'
        f'<p class="knobs-twin-description">{html.escape(describe(data, first))}</p></details>'
        f'<script type="application/json" class="knobs-twin-data">{payload}</script>'
        f'<script>{player}</script></div>'
    )
