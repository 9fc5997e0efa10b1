"""Chapter 1's code: the lab that turns the hyperparameters while the parameters train, and the prose's numbers."""
from __future__ import annotations

import math

import torch

from knobs import data, models, train
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import HeatmapView, HistogramView, LossView, PredictionsView
from knobs.validate import check_instance, check_int, check_number, check_tensor, fail


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
               lambda: LossView(labels={"train_loss": "batch loss"}),  # train_lm logs one batch's loss
               lambda: PredictionsView("the cat", data.likely_next_words("the cat"))],
        steps=300, every=4, twin_frames=11,  # every=4: a live frame stays within 16.7 ms
    )


LABS = [hyperparameter_lab]


# --- the numbers the prose states (each glued by the notebook, each tested in tests/chapters/test_ch01.py) ---

def untrained_numbers(model, vocab, X, y, context: str = "the cow") -> dict[str, str]:
    """Before training: the top guess after `context`, a uniform guess's probability and loss, the model's loss."""
    top = models.predict_next(model, vocab, context, k=1)[0][1]
    return {"untrained_top": f"{top:.1%}", "uniform_pct": f"{1 / len(vocab):.1%}",
            "uniform_loss": f"{math.log(len(vocab)):.2f}", "untrained_loss": f"{train.evaluate(model, X, y):.2f}",
            "vocab_size": str(len(vocab))}


def validation_overlap(X, y, X_val, y_val) -> dict[str, float]:
    """How much of the validation set also occurs in training: the farm corpus repeats its sentences."""
    pairs = {tuple(row) for row in torch.cat([X, y[:, None]], 1).tolist()}
    contexts = {tuple(row) for row in X.tolist()}
    val_pairs = [tuple(row) for row in torch.cat([X_val, y_val[:, None]], 1).tolist()]
    return {"pairs_seen": sum(p in pairs for p in val_pairs) / len(val_pairs),
            "contexts_seen": sum(tuple(c) in contexts for c in X_val.tolist()) / len(X_val),
            "distinct_train_pairs": len(pairs), "distinct_train_contexts": len(contexts), "train_pairs": len(y)}


def count_table_loss(X, y, X_val, y_val, vocab_size: int) -> float:
    """Validation loss (nats) of the next-word frequencies counted on the training split: the floor a model can reach.

    A (context, next word) pair never seen in training (none in the farm split) falls back to the word's overall
    frequency, add-one smoothed, so the loss stays finite.
    """
    counts: dict[tuple, torch.Tensor] = {}
    for context, word in zip(map(tuple, X.tolist()), y.tolist()):
        counts.setdefault(context, torch.zeros(vocab_size))[word] += 1
    unigram = (torch.bincount(y, minlength=vocab_size).float() + 1) / (len(y) + vocab_size)
    losses = []
    for context, word in zip(map(tuple, X_val.tolist()), y_val.tolist()):
        row = counts.get(context)
        p = float(row[word] / row.sum()) if row is not None and row[word] > 0 else float(unigram[word])
        losses.append(-math.log(p))
    return sum(losses) / len(losses)


def sentence_counts(corpus) -> tuple[int, int]:
    """(sentences, distinct sentences) of a corpus: every sentence ends with the word "."."""
    check_instance("corpus", corpus, data.Corpus, "a Corpus (from data.load_corpus)")
    sentences, current = [], []
    for word in corpus.tokens:
        current.append(word)
        if word == ".":
            sentences.append(" ".join(current))
            current = []
    return len(sentences), len(set(sentences))


def data_numbers(X, y, X_val, y_val, vocab_size: int, corpus=None) -> dict[str, str]:
    """The prose's numbers about the data: validation overlap, the best possible loss (and the sentences' repeats)."""
    overlap = validation_overlap(X, y, X_val, y_val)
    sentences = {} if corpus is None else dict(zip(("sentences", "distinct_sentences"),
                                                    map(str, sentence_counts(corpus))))
    return {**sentences, "val_pairs_seen": f"{overlap['pairs_seen']:.0%}", "distinct_pairs": str(overlap["distinct_train_pairs"]),
            "distinct_contexts": str(overlap["distinct_train_contexts"]), "train_pairs": f"{overlap['train_pairs']:,}",
            "floor_loss": f"{count_table_loss(X, y, X_val, y_val, vocab_size):.2f}"}


def locate_parameter(model, vocab, index: int) -> str:
    """Name the single parameter at flat position `index` of model.parameters() in order, with its row's word."""
    check_int("index", index, 0)
    for name, param in model.named_parameters():
        if index < param.numel():
            position = tuple(int(i) for i in torch.unravel_index(torch.tensor(index), param.shape))
            if name in ("embed.weight", "out.weight", "out.bias"):  # one row per vocabulary word
                return f"{name}[{', '.join([vocab.words[position[0]], *map(str, position[1:])])}]"
            return f"{name}[{', '.join(map(str, position))}]"
        index -= param.numel()
    raise ValueError(f"index must be below the model's {sum(p.numel() for p in model.parameters())} parameters")


def ablation_groups(model, vocab, effects, threshold: float = 0.05) -> dict[str, int]:
    """Where the single parameters that move the probability by more than `threshold` sit: tensor and word row."""
    models.check_tiny_lm(model)
    check_instance("vocab", vocab, data.Vocab, "a knobs Vocab (e.g. data.farm_split().vocab)")
    check_tensor("effects", effects, floating=True, dim=1)
    total = sum(p.numel() for p in model.parameters())
    if len(effects) != total:
        fail("effects", f"one change per parameter of the model ({total})", effects)
    check_number("threshold", threshold, 0, low_open=True)
    groups: dict[str, int] = {}
    for index in torch.nonzero(effects.abs() > threshold).flatten().tolist():
        name, inside = locate_parameter(model, vocab, index).rstrip("]").split("[")
        word = inside.split(", ")[0]
        group = {"out.bias": f"out.bias[{word}]", "out.weight": f"out.weight row {word}",
                 "embed.weight": f"embed.weight row {word}"}.get(name, name)
        groups[group] = groups.get(group, 0) + 1
    return dict(sorted(groups.items(), key=lambda item: -item[1]))


def ablation_numbers(model, vocab, effects, context: str = "cow eats", word: str = "hay",
                     threshold: float = 0.05) -> dict[str, str]:
    """The prose's numbers about zeroing one parameter at a time: how many matter, where they sit, the rival word."""
    probs = torch.softmax(model(torch.tensor([vocab.encode(context)[-model.config.context:]]))[0], -1).detach()
    rival = max((w for w in vocab.words if w != word), key=lambda w: float(probs[vocab.id(w)]))
    groups = ablation_groups(model, vocab, effects, threshold)
    in_rows = sum(n for g, n in groups.items() if g in (f"out.weight row {word}", f"out.weight row {rival}"))
    largest = int(effects.abs().argmax())
    return {"abl_total": f"{len(effects):,}", "abl_big": str(int((effects.abs() > threshold).sum())),
            "abl_threshold": f"{threshold:g}", "abl_median": f"{effects.abs().median():.5f}",
            "abl_largest": f"{effects.abs().max():.2f}", "abl_largest_where": locate_parameter(model, vocab, largest),
            "abl_base": f"{float(probs[vocab.id(word)]):.2f}", "abl_rival": rival,
            "abl_rival_p": f"{float(probs[vocab.id(rival)]):.2f}", "abl_in_rows": str(in_rows),
            "abl_hidden": str(sum(n for g, n in groups.items() if g.startswith("hidden."))),
            "abl_embed": str(sum(n for g, n in groups.items() if g.startswith("embed."))),
            "abl_bias": ", ".join(g for g in groups if g.startswith("out.bias")) or "none"}
