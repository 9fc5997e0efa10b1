"""knobs.lab.views: drawers update their artists in place; a full redraw only on new limits."""
import numpy as np

from knobs.lab.render import Renderer
from knobs.lab.views import CurvesView, HeatmapView, HistogramView, History
from knobs.train import Snapshot


def snap(step, scale):
    return Snapshot(step, {"w": np.linspace(-scale, scale, 12).reshape(3, 4)}, {"train_loss": 1.0 / (step + 1)})


def test_views_update_in_place_and_only_full_redraw_on_new_limits():
    views = [HeatmapView("w"), HistogramView("w")]
    renderer, history = Renderer(views, total_steps=10), History()
    history.add(snap(0, 1.0))
    renderer.draw(snap(0, 1.0), history)
    image, stairs = views[0].image, views[1].stairs
    background = renderer.background
    history.add(snap(1, 1.1))
    renderer.draw(snap(1, 1.1), history)
    assert views[0].image is image and views[1].stairs is stairs  # artists reused, not re-created
    assert renderer.background is background  # no full redraw needed for small changes


def test_curves_view_grows_its_axis_or_clips_into_a_fixed_one():
    growing = CurvesView(["train_loss"], title="loss")
    fixed = CurvesView(["train_loss"], title="loss", ylim=(0, 1), reference={"floor": 0.2},
                       summary="{train_loss:.1f} at step {step}")
    renderer, history = Renderer([growing, fixed], total_steps=10), History()
    for step, loss in ((0, 0.5), (1, 2.0), (2, float("nan"))):
        s = Snapshot(step, {}, {"train_loss": loss})
        history.add(s)
        renderer.draw(s, history)
    assert growing.ax.get_ylim()[1] >= 2.0  # grew to hold the curve
    assert fixed.ax.get_ylim() == (0, 1)
    assert list(fixed.lines["train_loss"].get_ydata()) == [0.5, 1.0, 1.0]  # clipped; NaN drawn at the top
    assert fixed.describe(Snapshot(3, {}, {"train_loss": 0.25})) == "0.2 at step 3"
    assert growing.describe(Snapshot(3, {}, {"train_loss": 0.25})) == "Loss up to step 3: train loss 0.250."


def test_the_end_of_sentence_word_is_named_in_labels_and_alt_text():
    from knobs.data import END_NAME, display_word
    from knobs.lab.views import PredictionsView

    assert display_word(".") == END_NAME == "⟨end⟩" and display_word("cat") == "cat"
    view = PredictionsView("the cat", ["eats", "."])
    renderer = Renderer([view], total_steps=1)
    snap = Snapshot(0, {}, {}, {"probs": {"the cat": {"eats": 0.4, ".": 0.6}}})
    renderer.draw(snap, History())
    assert [t.get_text() for t in view.ax.get_yticklabels()] == ["eats", END_NAME]
    assert view.describe(snap) == "After “the cat” the model gives ⟨end⟩ 60%, eats 40%."
