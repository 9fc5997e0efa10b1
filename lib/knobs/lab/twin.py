"""The static twin of a lab: the same knobs over precomputed frames, for the HTML book.

At build time every combination of the controls' `twin` values is run once
and `lab.twin_frames` frames of it are rendered with the same views as the
live lab, encoded as small WebP images and inlined with their alt text. A
~100-line JS player (twin.js, inlined too: no network request, no kernel)
swaps the image when a knob moves. Native <input type=range>, <select> and
<button> elements make it keyboard operable and labelled for screen readers.
"""
from __future__ import annotations

import base64
import html
import itertools
import json
from importlib import resources

from knobs.lab.lab import Lab
from knobs.runtime import progress as progress_bar
from knobs.validate import check_bool, check_instance, check_int, fail


TWIN_CSS = (".knobs-twin{border:1px solid #ccc;border-radius:6px;padding:.5em .8em;margin:1em 0}"
            ".knobs-twin-controls{display:flex;flex-wrap:wrap;gap:.4em 1.4em;align-items:center;margin-bottom:.4em}"
            ".knobs-twin-knob output{display:inline-block;min-width:3em;margin-left:.3em;font-variant-numeric:tabular-nums}"
            ".knobs-twin-fixed{color:#555;font-size:.9em}.knobs-twin-status{font-size:.85em;color:#444}"
            ".knobs-twin button{padding:.15em .8em}")


def render_setting(lab, values: dict, wanted_steps: list[int]) -> list[list[str]]:
    """[image data URI, alt text] at each wanted step of one run (held at the last frame once a run stops)."""
    check_instance("lab", lab, Lab, "a Lab")
    if not isinstance(wanted_steps, (list, tuple)):
        fail("wanted_steps", "a list of steps", wanted_steps)
    for step in wanted_steps:
        check_int("wanted_steps (each step)", step, 0)
    lab.reset(values)  # same chunking as the live lab, so curves have the same detail
    frames = []
    for step in wanted_steps:
        while lab.snapshot.step < step and lab.advance(draw=False):
            pass
        lab.redraw()
        uri = "data:image/webp;base64," + base64.b64encode(lab.frame("webp")).decode()
        frames.append([uri, lab.describe()])
    return frames


def build_twin_html(lab, progress: bool = True) -> str:
    """The static twin of `lab` as one self-contained HTML fragment (frames, controls and player inlined)."""
    check_instance("lab", lab, Lab, "a Lab")
    check_bool("progress", progress)
    steps = lab.twin_steps()
    grid = list(itertools.product(*(range(len(c.twin)) for c in lab.controls)))
    frames = {}
    for index in progress_bar(grid, f"precomputing {lab.name}", show=progress):
        values = {c.name: c.twin[i] for c, i in zip(lab.controls, index)}
        frames[",".join(map(str, index))] = render_setting(lab, values, steps)
    defaults = [c.twin.index(c.default) if c.default in c.twin else 0 for c in lab.controls]
    data = {
        "controls": [{"name": c.name, "label": c.label, "values": [c.fmt.format(v) for v in c.twin]}
                     for c in lab.controls],
        "steps": steps, "defaults": defaults, "frames": frames,
    }
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    first_src, first_alt = frames[",".join(map(str, defaults))][0]
    player = resources.files("knobs.lab").joinpath("twin.js").read_text()
    uid = html.escape(lab.name)
    return (
        f'<style>{TWIN_CSS}</style>'
        f'<div class="knobs-twin" id="twin-{uid}" role="group" aria-label="{html.escape(lab.title)} (precomputed lab)">'
        f'<p class="knobs-twin-title"><strong>{html.escape(lab.title)}</strong> '
        f'<em>(precomputed: turn the knobs, no kernel needed)</em></p>'
        f'<div class="knobs-twin-controls"></div>'
        f'<img class="knobs-twin-frame" src="{first_src}" alt="{html.escape(first_alt)}" style="max-width:100%">'
        f'<p class="knobs-twin-status" aria-live="polite"></p>'
        f'<script type="application/json" class="knobs-twin-data">{payload}</script>'
        f'<script>{player}</script></div>'
    )
