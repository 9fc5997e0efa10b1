"""knobs.figures: colour-blind-safe colours everywhere a chapter draws (checked in the code, so new chapters are
covered), and show_figure's alt text."""
import json
import re

import pytest

from conftest import ROOT
from knobs import figures
from knobs.figures import show_figure

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
    assert figures.PALETTE == OKABE_ITO
    assert figures.DIVERGING_CMAP in SAFE_CMAPS


@pytest.mark.parametrize("name, text", list(sources()), ids=[n for n, _ in sources()])
def test_every_colormap_named_in_code_is_colourblind_safe(name, text):
    named = re.findall(r"""cmap\s*=\s*["']([\w.]+)["']|(?:get_cmap|colormaps\[)\(?\s*["']([\w.]+)["']""", text)
    unsafe = {a or b for a, b in named} - SAFE_CMAPS
    assert not unsafe, f"{name} uses {unsafe}: use figures.DIVERGING_CMAP, viridis or cividis (colour-blind safe)"
    assert not re.search(r"""["'](jet|rainbow|hsv|gist_rainbow|nipy_spectral|RdYlGn|PiYG|PRGn|Spectral)(_r)?["']""",
                         text), f"{name} names a colormap that red-green colour-blind readers cannot read"


def test_show_figure_requires_alt_text():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="alt"):
        show_figure(fig, alt=" ")
    out = show_figure(fig, alt="an empty plot")._repr_mimebundle_()
    assert 'alt="an empty plot"' in out["text/html"]


def test_a_wide_figure_says_it_scrolls_on_a_narrow_screen_only():
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(9.5, 2))
    wide = show_figure(fig, alt="a wide diagram", wide=True)
    html = wide.html()
    width = max(p.width for p in wide.pictures) + 64
    assert "scroll sideways" in html and f"@media (max-width:{width}px)" in html
    assert 'style="display:none' in html  # hidden unless the media query shows it (or a sanitizer drops <style>)
    fig, _ = plt.subplots()
    assert "scroll sideways" not in show_figure(fig, alt="an ordinary plot").html()
