"""Chapter 1's code: the lab that turns the hyperparameters while the parameters train."""
from __future__ import annotations

from knobs import data, models, train
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import HeatmapView, HistogramView, LossView, PredictionsView


def with_predictions(run, model, vocab, contexts=("the cat",)):
    """Add the model's probabilities for each context's likely next words to every snapshot."""
    for snap in run:
        snap.info["probs"] = {c: models.next_word_probs(model, vocab, c, data.likely_next_words(c)) for c in contexts}
        yield snap


def hyperparameter_run(values, steps, every):
    vocab, X, y, X_val, y_val = data.farm_split()
    model = models.make_tiny_lm(len(vocab), seed=0, hidden=values["hidden"])
    run = train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, every=every,
                         lr=values["lr"], batch_size=values["batch_size"], optimizer=values["optimizer"], seed=0)
    return with_predictions(run, model, vocab)


def hyperparameter_lab() -> Lab:
    return Lab(
        name="ch01-hyperparameters",
        title="Hyperparameters in, parameters out",
        controls=[
            Slider("lr", "learning rate", 1e-3, 1.0, 0.03, log=True, twin=(0.001, 0.03, 1.0)),
            Slider("hidden", "hidden width", 2, 64, 32, integer=True, twin=(2, 32)),
            Choice("batch_size", "batch size", (8, 64, 512), 64, twin=(64,)),
            Choice("optimizer", "optimizer", ("adam", "sgd"), "adam", twin=("adam",)),
        ],
        run=hyperparameter_run,
        views=[lambda: HeatmapView("hidden.weight", "hidden.weight (a parameter matrix)"),
               lambda: HistogramView(["hidden.weight", "out.weight"], "all weight values"),
               lambda: LossView(),
               lambda: PredictionsView("the cat", data.likely_next_words("the cat"))],
        steps=300, every=4, twin_frames=11,  # every=4: a live frame stays within 16.7 ms
    )


LABS = [hyperparameter_lab]
