"""The lab pattern: engine, live face (driven like a user, without a browser), static twin."""
import json
import re
import time

import numpy as np
import pytest

from knobs.chapters import all_labs, ch01
from knobs.lab import Choice, Lab, Slider
from knobs.lab import lab as labmod
from knobs.lab.views import LossView
from knobs.train import Snapshot


def toy_run(values, steps, every):
    """A run whose loss is exp(rate * step): finite for small rates, inf (diverged) for large ones."""
    for step in range(0, steps + 1, every):
        exponent = values["rate"] * step
        loss = float(np.exp(exponent)) if exponent < 700 else float("inf")
        yield Snapshot(step, {"w": np.full((2, 2), step, float)}, {"train_loss": loss})


def toy_lab(**kw):
    return Lab("toy", "Toy", [Slider("rate", "rate", 0.0, 50.0, 0.0, twin=(0.0, 50.0)),
                              Choice("kind", "kind", ("a", "b"))],
               toy_run, [lambda: LossView(("train_loss",))], steps=40, every=10, twin_frames=3, **kw)


def test_engine_runs_to_the_end():
    lab = toy_lab()
    lab.reset()
    while lab.advance():
        pass
    assert lab.snapshot.step == 40 and lab.status == ""
    assert lab.frame("jpeg")[:2] == b"\xff\xd8"


def test_divergence_gives_a_message_and_stops():
    lab = toy_lab()
    lab.reset({"rate": 50.0})
    while lab.advance():
        pass
    assert "Diverged" in lab.status and "Lower the learning rate" in lab.status
    assert lab.snapshot.step < 40 and not lab.advance()


@pytest.mark.parametrize("values, message", [({"rate": 99.0}, "between 0 and 50"), ({"kind": "z"}, "must be one of"),
                                             ({"speed": 1}, "unknown control"), ({"rate": float("nan")}, "number")])
def test_values_out_of_range_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        toy_lab().reset(values)


def test_live_face_buttons_and_sliders_work_without_a_browser():
    live = toy_lab().live()
    assert live.lab.snapshot.step == 0
    live.step_button.click()
    assert live.lab.snapshot.step == 10
    live.reset_button.click()
    assert live.lab.snapshot.step == 0
    live.controls["rate"].value = 50.0  # moving a knob restarts the run with the new value
    live.play_button.click()
    live.wait(10)
    assert "Diverged" in live.status.value and live.play_button.description == "Play"
    assert live.image.value[:2] == b"\xff\xd8"


def test_play_is_paced_to_show_a_run_in_play_seconds_at_the_chosen_speed():
    lab = toy_lab(play_seconds=2.0)  # 40 steps, 10 a frame: 4 frames after the first
    assert lab.frame_interval() == pytest.approx(0.5) and lab.frame_interval(speed=2.0) == pytest.approx(0.25)
    live = lab.live()
    assert len(live.images) == len(lab.views) and live.images[0].layout.width == "328px"  # shown at its CSS size
    live.speed.value = "fastest"
    assert live.interval() == pytest.approx(1 / lab.fps)
    live.speed.value = "normal"
    started = time.perf_counter()
    live.play()
    live.wait(10)
    assert live.lab.snapshot.step == 40 and 1.2 <= time.perf_counter() - started <= 6
    assert "Describe this picture" in live.description.value and "Step 40 of 40" in live.description.value


def test_the_live_face_sends_only_the_panels_that_changed():
    live = ch01.hyperparameter_lab().live()
    assert all(image.value[:2] == b"\xff\xd8" for image in live.images)  # JPEG, every panel at the start
    lab = live.lab
    lab.redraw()
    assert lab.changed_panels() == {}  # the same frame again: nothing to send
    lab.advance()
    assert set(lab.changed_panels()) == {0, 1, 2, 3}


def test_play_then_pause_stops_between_chunks():
    live = ch01.hyperparameter_lab().live()
    live.play_button.click()
    assert live.play_button.description == "Pause"
    live.play_button.click()
    live.wait(5)
    stopped_at = live.lab.snapshot.step
    assert 0 <= stopped_at < 300 and not live._thread.is_alive()
    assert live.lab.snapshot.step == stopped_at  # nothing trains after Pause


def test_twin_html_is_self_contained_with_alt_text_and_all_frames():
    html = toy_lab().twin_html(progress=False)
    assert 'class="knobs-twin"' in html and "http" not in html.replace("http-equiv", "")
    data = json.loads(re.search(r'class="knobs-twin-data">(.*?)</script>', html, re.S).group(1))
    assert set(data["frames"]) == {"0,0", "0,1", "1,0", "1,1"}
    assert data["steps"] == [0, 20, 40]
    assert data["panels"] == [{"w": 328, "h": 232}]
    assert all(uri.startswith("data:image/webp;base64,") for uri in data["images"])
    layers = set()
    for frames in data["frames"].values():
        assert len(frames) == 3
        for frame in frames:
            assert len(frame["img"]) == len(frame["alt"]) == 1 and all(len(alt) > 20 for alt in frame["alt"])
            assert frame["text"].startswith("rate ") and "Step" in frame["text"]
            layers |= {i for pair in frame["img"] for i in pair}
    assert layers == set(range(len(data["images"])))  # every image is used...
    assert len(data["images"]) < 2 * 4 * 3  # ...and one image is shared by the frames that show it
    assert "Diverged" in data["frames"]["1,0"][-1]["text"]  # the diverged setting says so in its summary
    assert 'alt="Loss curve up to step 0' in html and "Describe this picture" in html


def test_show_picks_twin_in_static_mode(monkeypatch, capsys):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setenv("KNOBS_STATIC", "1")
    toy_lab().show()
    assert 'class="knobs-twin"' in shown[0].data
    monkeypatch.setenv("KNOBS_STATIC", "0")
    toy_lab().show()
    assert type(shown[1]).__name__ == "VBox"


@pytest.mark.parametrize("name", sorted(all_labs()))
def test_every_declared_lab_trains_and_draws_a_few_frames_without_an_error(name):
    lab = all_labs()[name]()
    lab.reset()
    for _ in range(3):
        lab.advance()
    assert lab.status == "", f"{name}: {lab.status}"  # an exception inside the run would show up here
    assert lab.snapshot.step > 0 and len(lab.describe()) > 40
    assert lab.frame("jpeg")[:2] == b"\xff\xd8"


def test_a_run_that_raises_is_stopped_with_its_message_not_a_traceback():
    def broken_run(values, steps, every):
        yield Snapshot(0, {"w": np.zeros((2, 2))}, {"train_loss": 1.0})
        raise ValueError("the batch is empty")

    lab = Lab("broken", "Broken", [Choice("kind", "kind", ("a",))], broken_run,
              [lambda: LossView(("train_loss",))], steps=10, every=5)
    lab.reset()
    assert not lab.advance() and lab.finished
    assert lab.status == "This run stopped: the batch is empty"


def test_a_steps_knob_sets_the_run_length_and_the_twin_uses_its_one_value():
    lab = toy_lab()
    lab.controls.append(Slider("steps", "steps", 10, 100, 40, integer=True, twin=(20,)))
    lab.reset({"steps": 60})
    while lab.advance():
        pass
    assert lab.steps == lab.snapshot.step == 60
    assert lab.twin_steps() == [0, 10, 20]
    lab.controls[-1].twin = (20, 40)
    with pytest.raises(ValueError, match="exactly one value"):
        lab.twin_steps()


def test_twin_steps_are_evenly_spaced_and_include_both_ends():
    assert toy_lab().twin_steps() == [0, 20, 40]
    assert labmod.frame_steps(300, 7) == [0, 50, 100, 150, 200, 250, 300]
    with pytest.raises(ValueError, match="twin_frames"):
        labmod.frame_steps(10, 1)


def test_time_frames_reports_milliseconds():
    times = labmod.time_frames(toy_lab(), n=5)
    assert len(times) == 5 and all(t > 0 for t in times)
