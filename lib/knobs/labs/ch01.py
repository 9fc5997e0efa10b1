"""Chapter 1's lab: turn the hyperparameters, watch the parameters train."""
from __future__ import annotations

from functools import lru_cache

from knobs import data, models, train
from knobs.lab import Choice, Lab, Slider
from knobs.views import HeatmapView, HistogramView, LossView, PredictionsView

@lru_cache(maxsize=1)
def farm_data():
    """The farm corpus as (vocab, X_train, y_train, X_val, y_val), built once per session."""
    corpus = data.load_corpus("farm")
    X, y = data.make_dataset(corpus, context=2)
    return (corpus.vocab, *data.split_dataset(X, y, val_fraction=0.2, seed=0))


@lru_cache(maxsize=None)
def candidates(context: str, k: int = 5) -> tuple[str, ...]:
    """The k words that most often follow `context` in the farm corpus."""
    return tuple(list(data.next_word_counts(data.load_corpus("farm"), context))[:k])


def with_predictions(run, model, vocab, contexts=("the cat",)):
    """Add the model's probabilities for each context's candidate words to every snapshot."""
    for snap in run:
        snap.info["probs"] = {c: models.next_word_probs(model, vocab, c, candidates(c)) for c in contexts}
        yield snap


def hyperparameter_run(values, steps, every):
    vocab, X, y, X_val, y_val = farm_data()
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
               lambda: PredictionsView("the cat", candidates("the cat"))],
        steps=300, every=4, figsize=(11.5, 2.7),  # every=4: a live frame stays within 16.7 ms
    )


LABS = [hyperparameter_lab]
