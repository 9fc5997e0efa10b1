"""Colour-blind-safe colours everywhere a chapter draws: checked in the code, so new chapters are covered."""
import json
import re

import pytest

from conftest import ROOT
from knobs import views

# Perceptually ordered maps and ColorBrewer's colour-blind-safe diverging ones (no red-green pairs).
SAFE_CMAPS = {"RdBu", "RdBu_r", "PuOr", "PuOr_r", "BrBG", "BrBG_r", "RdYlBu", "RdYlBu_r", "viridis", "cividis",
              "magma", "inferno", "plasma", "Greys", "Greys_r", "gray", "gray_r", "Blues", "Oranges", "Purples"}
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def sources():
    """Every Python source of the library, and the code cells of every chapter notebook."""
    for path in sorted((ROOT / "lib" / "knobs").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        yield str(path.relative_to(ROOT)), "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def test_palette_is_okabe_ito_and_diverging_map_is_safe():
    assert views.PALETTE == OKABE_ITO
    assert views.DIVERGING_CMAP in SAFE_CMAPS


@pytest.mark.parametrize("name, text", list(sources()), ids=[n for n, _ in sources()])
def test_every_colormap_named_in_code_is_colourblind_safe(name, text):
    named = re.findall(r"""cmap\s*=\s*["']([\w.]+)["']|(?:get_cmap|colormaps\[)\(?\s*["']([\w.]+)["']""", text)
    unsafe = {a or b for a, b in named} - SAFE_CMAPS
    assert not unsafe, f"{name} uses {unsafe}: use views.DIVERGING_CMAP, viridis or cividis (colour-blind safe)"
    assert not re.search(r"""["'](jet|rainbow|hsv|gist_rainbow|nipy_spectral|RdYlGn|PiYG|PRGn|Spectral)(_r)?["']""",
                         text), f"{name} names a colormap that red-green colour-blind readers cannot read"
