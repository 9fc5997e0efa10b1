"""Chapter 9's code, the lab: the skew of the data in, the bias of the parameters out; and a mitigation knob."""
from __future__ import annotations

from knobs import bias
from knobs.figures import PALETTE
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import CurvesView, LossView, PredictionsView


def bias_view() -> CurvesView:
    """Next-word bias and job separation against step, on fixed axes from −0.2 to 1."""
    return CurvesView(["bias_next", "job_separation"], title="learned bias", ylim=(-0.2, 1.05),
                      reference={"_zero": 0.0}, legend="lower right", colors=PALETTE[3:],
                      labels={"bias_next": "next-word bias", "job_separation": "job separation (embeddings)"},
                      summary="Next-word bias {bias_next:.2f} (0 = none, 1 = fully stereotyped); "
                              "job separation {job_separation:.2f}.")


def skew_run(values, steps, every):
    return bias.bias_run(values["skew"], values["mitigation"], steps=steps, every=every)


def bias_lab() -> Lab:
    return Lab(
        name="ch09-bias",
        title="Skewed data in, biased parameters out",
        controls=[Slider("skew", "skew of the data", 0.5, 1.0, 0.9, twin=(0.5, 0.75, 1.0), fmt="{:.0%}"),
                  Choice("mitigation", "mitigation", bias.MITIGATIONS, "none")],
        run=skew_run,
        views=[bias_view,
               lambda: PredictionsView("farmer said", ["he", "she"]),
               lambda: LossView(("train_loss", "farm_loss"), title="loss (farm_loss: the cost)")],
        steps=300, every=5, twin_frames=11,
    )


LABS = [bias_lab]
