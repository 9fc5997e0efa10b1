"""One validation rule for the whole public API (issue 18): every public function of knobs refuses a bad
argument with a ValueError or TypeError whose message names the argument and says what it got.

The walk finds, by introspection, every public function and class of every knobs module (names without
a leading underscore, defined in that module; lru_cache'd functions too). Three groups are decided here:

- chapters/chNN.py: only what a notebook calls where a learner sees it (found in the notebooks' code cells
  that are not tagged remove-cell). The rest of a chapter module is plumbing for its own labs and hidden
  cells: a lab's run gets values its controls already validated (`Lab.validated`), a view gets a snapshot,
  and a verdict gets the chapter's own results; tests/chapters/ covers those.
- exercises: the checker helpers and each chapter's reference computations are walked; the registered
  checkers are not, since `check()` calls them and never raises (tested in tests/unit/test_checker.py).
- a callable with no parameters has nothing to refuse; exceptions and result records (dataclasses the
  library fills in and returns) are exempt below, each with its reason.

Every other callable needs a row in VALID: a factory of arguments for one valid call. The test then
replaces one argument at a time by bad values chosen by the parameter's kind (KIND_BY_NAME, from its
name; then its annotation or default; a row may override) and requires a ValueError or TypeError that
names the parameter and says what it got. A new public function without a row fails the walk, and so
does a parameter whose kind cannot be told.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import math
import pkgutil
import random
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import knobs
import knobs.descent
import knobs.numformats
import knobs.quantize
import knobs.regularize
import knobs.scale
import knobs.sparse_cost
import knobs.lab.views
import knobs.validate
from knobs import checkpoints, data, gpt, models, overfit, stacked, sweep, transfer
from knobs.autograd import Value
from knobs.exercises import checker

ROOT = Path(knobs.__file__).parents[2]


# ---- the walk ------------------------------------------------------------------------------------------------------
def notebook_calls() -> dict[str, set[str]]:
    """{'ch05': {'measure', 'sweep', ...}}: chapter names used in the notebooks' visible code cells."""
    used: dict[str, set[str]] = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or "remove-cell" in cell.get("metadata", {}).get("tags", []):
                continue
            source = "".join(cell["source"])
            for chapter, name in re.findall(r"\b(ch\d\d)\.(\w+)", source):
                used.setdefault(chapter, set()).add(name)
            for chapter, names in re.findall(r"from knobs\.chapters\.(ch\d\d) import ([\w, ]+)", source):
                used.setdefault(chapter, set()).update(n.strip() for n in names.split(","))
    return used


def public_callables() -> dict[str, object]:
    """{'prune.magnitude_mask': function, 'models.TinyLM': class, ...} for every module of knobs."""
    modules = ["knobs"] + sorted(info.name for info in pkgutil.walk_packages(knobs.__path__, "knobs."))
    found, calls = {}, notebook_calls()
    for module_name in modules:
        module = importlib.import_module(module_name)
        chapter = re.fullmatch(r"knobs\.chapters\.(ch\d\d)", module_name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != module_name or not callable(obj):
                continue
            if chapter and attr not in calls.get(chapter.group(1), set()):
                continue  # chapter plumbing, not called where a learner sees it (see the docstring)
            if obj in checker.REGISTRY.values():
                continue  # a registered checker: check() calls it and never raises
            found[f"{module_name.removeprefix('knobs.')}.{attr}"] = obj
    return found


def parameters(obj) -> list[inspect.Parameter]:
    """The parameters a caller passes (not *args / **kwargs: those are forwarded to a function of their own)."""
    return [p for p in inspect.signature(obj).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


# ---- bad values, by the kind of parameter --------------------------------------------------------------------------
class Exempt:
    """A parameter that legitimately accepts anything (or is checked elsewhere), with the reason."""

    def __init__(self, reason: str):
        self.reason = reason


ANSWER = Exempt("a learner's answer may be any object; a wrong one gets a hint (AnswerForm), never a traceback")
DISPLAY = Exempt("display text: any value is shown as str() of it, as matplotlib shows a title")
AUTHORED = Exempt("a validator's own option, written by knobs' authors next to the call, never by a learner")
INTERNAL = Exempt("set by the operation that builds the node (a learner passes data and a label)")


class Linear3(nn.Linear):
    def __init__(self):
        super().__init__(3, 3)


BAD = {
    "count": [True, 2.5, "3", -1, None],  # a whole number: 0 or more, or 1 or more
    "integer": [True, 2.5, "3", None],  # a whole number of either sign (a dim, a code)
    "amount": [True, "0.1", math.nan, math.inf, -1.0, 2 ** 1024, None],  # a finite number, 0 or more (or above 0)
    "fraction": [True, "0.5", math.nan, -0.5, 1.5, None],  # a probability, a sparsity, a share: in [0, 1]
    "real": [True, "0.1", math.nan, math.inf, 2 ** 1024, None],  # a finite number of either sign (2**1024: no float)
    "choice": ["no such option", 3, None],
    "text": [3, None],
    "bool": ["no", None],
    "tensor": [[1.0, 2.0], "w", None],
    "float tensor": [[1.0, 2.0], "w", None, torch.tensor([1, 2])],
    "ids": ["w", None, torch.tensor([0.5, 1.5])],  # word ids: a tensor (or list) of whole numbers
    "array": ["w", None],  # a tensor, an array or a nested list of numbers
    "module": ["model", None],
    "tinylm": ["model", None, Linear3],  # a knobs TinyLM (embed, hidden, out), not any module
    "callable": [3, None],
    "mapping": [["a"], "a", None],
    "sequence": [3, None],
    "vocab": ["farm", None],
    "axes": ["ax", None],
    "figure": ["fig", None],
    "generator": [3, "seed"],
    "config": [{"n_embd": 8}, None],
    "path": [3, None],
    "value": [1.5, "L", None],  # a knobs.autograd.Value
    "lab": ["lab", None],
}

KIND_BY_NAME = {
    "count": "steps every batch_size n k bits group_size n_outliers rank hidden embed_dim context vocab_size layers "
             "depth width batch num_words n_train n_val n_sentences patience chunk max_new_tokens rounds number "
             "threads twin_frames n_frames fan_in fan_out in_features out_features d budget lines bins dpi total "
             "total_steps every_nth nnz index_bytes rows per_value fixed pad_below val_sentences trials "
             "steps_per_round step seed seed_value stride",
    "integer": "dim block qmin qmax",
    "amount": "lr eps lam weight_decay noise timeout min_run_time every_seconds tol min_delta alpha span limit fps "
              "inch_per_unit rel abs_tol low high n_parameters",
    "fraction": "sparsity final skew val_fraction momentum beta1 beta2 clip amount",
    "real": "floor big_gradient input_scale expected",
    "choice": "kind scheme granularity optimizer strategy mitigation layout recipe activation how prefer chapter size",
    "text": "word words desc exercise_id question right what alt wrt param reason text",
    "bool": "trainable_only show_grad augment exclude_inputs tied decay_embeddings decoupled signed display "
            "every_step log integer progress show decay",
    "tensor": "w weight grad w_blocks w_hat R mean axes q",
    "ids": "X y X_val y_val ids",
    "module": "model base module",
    "callable": "run make_model loss_fn",
    "mapping": "masks weights values metrics info state_dict hf fields feedback times storage versions candidates",
    "sequence": "lams sizes sparsities shapes farms reinit_seeds targets names tokens train_ids eval_ids members "
                "controls views texts choices labels",
    "vocab": "vocab",
    "axes": "ax",
    "figure": "fig",
    "generator": "generator",
    "config": "config c",
    "path": "path directory cache_dir",
    "value": "root node",
    "lab": "lab",
}
KIND_BY_NAME = {name: kind for kind, names in KIND_BY_NAME.items() for name in names.split()}
KIND_BY_ANNOTATION = {"int": "count", "float": "real", "bool": "bool", "str": "text", "torch.Tensor": "tensor",
                      "nn.Module": "module", "dict": "mapping", "callable": "callable"}


def kind_of(param: inspect.Parameter, overrides: dict):
    """A kind name, a list of bad values, or an Exempt; None when it cannot be told (the test then says so)."""
    if param.name in overrides:
        return overrides[param.name]
    if param.name in KIND_BY_NAME:
        return KIND_BY_NAME[param.name]
    annotation = param.annotation if isinstance(param.annotation, str) else getattr(param.annotation, "__name__", "")
    annotation = annotation.removesuffix(" | None")
    if annotation in KIND_BY_ANNOTATION:
        return KIND_BY_ANNOTATION[annotation]
    default = param.default
    for kind, types in (("bool", bool), ("count", int), ("real", float), ("text", str), ("sequence", tuple)):
        if default is not inspect.Parameter.empty and isinstance(default, types):
            return kind
    return None


def bad_values(param: inspect.Parameter, kind) -> list:
    values = BAD[kind] if isinstance(kind, str) else kind
    values = [v() if isinstance(v, type) else v for v in values]  # classes stand for a fresh instance
    if param.default is None:  # None is how the caller says "not given"
        values = [v for v in values if v is not None]
    return values


# ---- valid calls: small, fast, deterministic -----------------------------------------------------------------------
FARM = data.farm_split()
V = len(FARM.vocab)


def tiny(**shape) -> models.TinyLM:
    return models.make_tiny_lm(V, seed=0, **shape)


def W(*shape, dtype=torch.float32) -> torch.Tensor:
    shape = shape or (4, 6)
    return torch.linspace(-1, 1, math.prod(shape), dtype=dtype).reshape(shape)


def Xy(n: int = 16):
    return dict(X=FARM.X[:n], y=FARM.y[:n])


def val(n: int = 16):
    return dict(X_val=FARM.X_val[:n], y_val=FARM.y_val[:n])


def gpt_config() -> gpt.GPTConfig:
    return gpt.GPTConfig(vocab_size=12, n_positions=8, n_embd=8, n_layer=1, n_head=2)


LM = ["lm", None, Linear3]  # a LoadedGPT, as ch10.load() returns it
GPT_MODEL = ["model", None, Linear3]  # a knobs.gpt GPT


def standin():
    from knobs import pretrained

    return pretrained.load_standin()


def ch10_stats() -> list[dict]:
    from knobs.chapters import ch10

    return ch10.matrix_stats(small_gpt())


def small_gpt() -> gpt.GPT:
    torch.manual_seed(0)
    return gpt.GPT(gpt_config())


def axes():
    from matplotlib.figure import Figure

    return Figure().subplots()


def skewed():
    from knobs import bias

    vocab = bias.make_skewed_corpus(0.9).vocab
    return dict(model=models.make_tiny_lm(len(vocab)), vocab=vocab)


def curve_data():
    return overfit.make_curve_data(n_train=6, n_val=10)


def scale_data():
    vocab, X, y, X_val, y_val = FARM
    return sweep.ScaleData(vocab, 2, X, y, X_val[:64], y_val[:64], 3000, {"small": 64, "more": 128})


def sweep_result():
    shape = {"embed_dim": 2, "hidden": 4, "layers": 1}
    return sweep.SweepResult([shape], np.array([100]), {"1/16 farm": 64, "8 farms": 128}, np.array([0, 1]),
                             np.ones((1, 2, 2)), np.ones((1, 2, 2)), np.ones((1, 2)), 8, labels=["d=2, h=4"])


def a_lab():
    """A lab with one setting and no training: its twin has one run of two frames."""
    from knobs.lab import Choice, Lab, Slider
    from knobs.lab.views import LossView
    from knobs.train import Snapshot

    def run(values, steps, every):
        for step in range(0, steps + 1, every):
            yield Snapshot(step, {}, {"train_loss": 1.0 / (1 + step)})

    return Lab("api-walk", "A toy lab", [Slider("rate", "rate", 0.0, 1.0, 0.5, twin=(0.5,)),
                                         Choice("kind", "kind", ("a", "b"), twin=("a",))],
               run, [lambda: LossView(("train_loss",))], steps=2, every=1, twin_frames=2, panel_size=(200, 150))


def a_graph() -> Value:
    w, x = Value(2.0, label="w"), Value(3.0, label="x")
    out = (w * x).tanh().named("L")
    out.backward()
    return out


def stack():
    return stacked.StackedLM([tiny(), tiny()])


def optimizer_state():
    model = tiny()
    opt = torch.optim.Adam(model.parameters())
    torch.nn.functional.cross_entropy(model(FARM.X[:4]), FARM.y[:4]).backward()
    opt.step()
    return dict(model=model, optimizer=opt)


def numformats_fields():
    return knobs.numformats.bit_fields(0.5, "fp16")


def standin_folder() -> Path:
    from knobs import pretrained

    return pretrained.STANDIN


def agg_renderer():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg(axes().figure).get_renderer()


# Each row: name -> (factory of a valid call's keyword arguments, {parameter: kind override}), grouped by module
# in the package's layer order. A kind override is a kind name, a list of bad values, or an Exempt with its reason.
VALID = {
    # ---- core --------------------------------------------------------------------------------------------------
    "runtime.progress": (lambda: dict(items=[1, 2], desc="counting", show=False), {"items": "sequence"}),
    "figures.style_axes": (lambda: dict(ax=axes(), title="t"),
                           {"title": DISPLAY, "xlabel": DISPLAY, "ylabel": DISPLAY}),
    "figures.FigureWithAlt": (lambda: dict(pictures=[knobs.figures.Picture(b"\x89PNG", "png", 10, 10)], alt="a picture"),
                              {"pictures": [3, None, [], [b"png"]]}),
    "figures.inches": (lambda: dict(css_px=96), {"css_px": "amount"}),
    "figures.recording_text": (lambda: dict(renderer=agg_renderer()), {"renderer": [3, None, "agg"]}),
    "figures.text_sizes": (lambda: dict(fig=axes().figure), {"extra_artists": [3, "labels"]}),
    "figures.shown_text_px": (lambda: dict(points=11, css_width=600, available=390),
                              {"points": "amount", "css_width": "amount", "available": "amount"}),
    "figures.encode_rgba": (lambda: dict(rgba=np.zeros((4, 4, 4), np.uint8), fmt="png"),
                            {"rgba": [3, None, np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4))], "fmt": "choice"}),
    "figures.data_uri": (lambda: dict(data=b"\x89PNG", fmt="png"), {"data": [3, "png", None], "fmt": "choice"}),
    "figures.Picture": (lambda: dict(data=b"\x89PNG", fmt="png", width=10, height=10),
                        {"data": [3, "png", None], "fmt": "choice", "text_pt": [0, -1, "big"]}),
    "figures.render_figure": (lambda: dict(fig=axes().figure), {"pad_px": "amount"}),
    "figures.show_figure": (lambda: dict(fig=axes().figure, alt="an empty plot"), {}),
    "data.read_corpus_text": (lambda: dict(name="farm"), {"name": "choice"}),
    "data.load_corpus": (lambda: dict(name="farm"), {"name": "text"}),
    "data.next_word_counts": (lambda: dict(corpus=data.load_corpus("farm"), words="the cat"),
                              {"corpus": ["farm", None]}),
    "data.make_dataset": (lambda: dict(corpus=data.load_corpus("farm"), context=2), {"corpus": ["farm", None]}),
    "data.split_dataset": (lambda: dict(**Xy(), val_fraction=0.5), {"X": "tensor", "y": ["w", None, torch.ones(2)]}),
    "data.iterate_batches": (lambda: dict(**Xy(), batch_size=4), {"X": "tensor", "y": ["w", None, torch.ones(2)]}),
    "data.display_word": (lambda: dict(word="."), {"word": [3, None, ["."]]}),
    "data.likely_next_words": (lambda: dict(context="the cat", k=2), {"context": "text"}),
    "models.TinyLMConfig": (lambda: dict(vocab_size=V), {}),
    "models.TinyLM": (lambda: dict(config=models.TinyLMConfig(vocab_size=V)), {}),
    "models.make_tiny_lm": (lambda: dict(vocab_size=V), {}),
    "models.predict_next": (lambda: dict(model=tiny(), vocab=FARM.vocab, words="the cat", k=2), {"model": "tinylm"}),
    "models.next_word_probs": (lambda: dict(model=tiny(), vocab=FARM.vocab, words="the cat", candidates=["naps"]),
                               {"model": "tinylm", "candidates": "sequence"}),
    "models.check_tiny_lm": (lambda: dict(model=tiny()), {"model": "tinylm", "name": AUTHORED, "exact": AUTHORED}),
    "models.parameter_kind": (lambda: dict(module=nn.Linear(2, 2), name="bias"), {"name": "text"}),
    "models.count_parameters": (lambda: dict(model=tiny()), {}),
    "models.memory_bytes": (lambda: dict(n_parameters=70e9, dtype="fp16"), {"dtype": "choice"}),
    "models.format_bytes": (lambda: dict(n=2048), {"n": "amount"}),
    "models.GPT2Config": (lambda: dict(n_embd=64, n_head=4), {}),
    "models.GPT2Block": (lambda: dict(c=models.GPT2Config(n_embd=8, n_head=2)), {}),
    "models.GPT2": (lambda: dict(c=models.GPT2Config(vocab_size=10, n_positions=4, n_embd=8, n_layer=1, n_head=2)), {}),
    "models.make_gpt2": (lambda: dict(config=models.GPT2Config()), {}),
    "models.gpt2_parameter_formula": (lambda: dict(c=models.GPT2Config()), {}),
    "train.seed": (lambda: dict(n=0), {"n": "count"}),
    "train.take_snapshot": (lambda: dict(model=tiny(), step=0, metrics={"loss": 1.0}), {}),
    "train.make_optimizer": (lambda: dict(params=tiny().parameters(), name="adam", lr=0.01),
                             {"params": ["w", 3, None], "name": "choice"}),
    "train.evaluate": (lambda: dict(model=tiny(), **Xy()), {}),
    "train.accuracy": (lambda: dict(model=tiny(), **Xy()), {}),
    "train.gradient_norm": (lambda: dict(model=tiny()), {}),
    "train.train_lm": (lambda: dict(model=tiny(), **Xy(), **val(), steps=2, every=1), {}),
    "train.run_to_end": (lambda: dict(run=iter([FARM])), {"run": [3, None]}),
    "chapter.Chapter": (lambda: dict(number=1), {"number": "count"}),
    "chapter.start": (lambda: dict(number=1), {"number": "count"}),
    "chapter.runtime_sentence": (lambda: dict(wall=12.0, cpu=10.0), {"wall": "amount", "cpu": "amount"}),
    "chapter.glue": (lambda: dict(name="n_params", value=3),
                     {"name": "text", "value": Exempt("any value can be glued: the prose shows its str()")}),
    # ---- techniques --------------------------------------------------------------------------------------------
    "autograd.Value": (lambda: dict(data=1.0, label="w"), {"data": "real", "children": INTERNAL, "op": INTERNAL,
                                                             "label": "text"}),
    "autograd.as_value": (lambda: dict(x=2.0), {"x": ["2", True, math.nan, None]}),
    "autograd.topological_order": (lambda: dict(root=a_graph()), {}),
    "compgraph.layout": (lambda: dict(root=a_graph()), {}),
    "compgraph.node_name": (lambda: dict(node=a_graph()), {}),
    "compgraph.draw_graph": (lambda: dict(root=a_graph(), ax=axes(), params=("w",)), {"params": "sequence"}),
    "compgraph.graph_figure": (lambda: dict(root=a_graph(), params=("w",)), {"params": "sequence"}),
    "compgraph.describe_graph": (lambda: dict(root=a_graph()), {}),
    "backprop.tiny_lm_backward": (lambda: dict(model=tiny(), **Xy()), {"model": "tinylm"}),
    "backprop.autograd_gradients": (lambda: dict(model=tiny(), **Xy()), {}),
    "descent.surface": (lambda: dict(t1=0.5, t2=np.zeros(3)), {"t1": "array", "t2": "array"}),
    "descent.gradient": (lambda: dict(theta=np.array([0.5, 0.1])), {"theta": ["w", None, [1.0]]}),
    "descent.loss": (lambda: dict(theta=np.array([0.5, 0.1])), {"theta": ["w", None, [1.0]]}),
    "descent.SGD": (lambda: dict(lr=0.1), {}),
    "descent.Momentum": (lambda: dict(lr=0.1), {}),
    "descent.Adam": (lambda: dict(lr=0.1), {}),
    "descent.make_optimizer": (lambda: dict(name="sgd", lr=0.1), {"name": "choice"}),
    "descent.descend": (lambda: dict(start=(1.0, 0.5), optimizer=knobs.descent.SGD(0.01), steps=2),
                        {"start": ["w", None, [1.0]], "optimizer": ["sgd", None]}),
    "initialization.init_std": (lambda: dict(scheme="he", fan_in=4, fan_out=3), {}),
    "initialization.init_normal_": (lambda: dict(weight=W(), scheme="xavier"), {"weight": "float tensor"}),
    "initialization.signal_through_depth": (lambda: dict(scheme="xavier", depth=2, width=4, batch=3), {}),
    "initialization.set_symmetric_init": (lambda: dict(model=tiny(), how="zero"), {"model": "tinylm", "value": "real"}),
    "initialization.count_distinct_units": (lambda: dict(weight=np.ones((3, 2)), bias=np.zeros(3)),
                                            {"weight": "array", "bias": "array"}),
    "regularize.l2_penalty": (lambda: dict(params=[W()], lam=0.1), {"params": [3, "w", None]}),
    "regularize.l1_penalty": (lambda: dict(params=[W()], lam=0.1), {"params": [3, "w", None]}),
    "regularize.l2_gradient": (lambda: dict(w=W(), lam=0.1), {"w": "float tensor"}),
    "regularize.l1_gradient": (lambda: dict(w=W(), lam=0.1), {"w": "float tensor"}),
    "regularize.soft_threshold": (lambda: dict(w=W(), threshold=0.1),
                                  {"w": "float tensor", "threshold": ["0.1", True, math.nan, -1.0, None]}),
    "regularize.shrink_": (lambda: dict(params=[W()], kind="L2", amount=0.1), {"params": [3, "w", None]}),
    "regularize.sgd_step": (lambda: dict(w=W(), grad=W(), lr=0.1), {"w": "float tensor", "grad": "float tensor"}),
    "regularize.adam_step": (lambda: dict(w=W(), grad=W(), state=knobs.regularize.AdamState()),
                             {"w": "float tensor", "grad": "float tensor", "state": ["state", None],
                              "betas": [(0.9, 1.0), (math.nan, 0.9), 0.9, None]}),
    "regularize.split_decay": (lambda: dict(model=tiny()), {}),
    "regularize.param_groups": (lambda: dict(model=tiny(), weight_decay=0.1), {}),
    "regularize.dropout": (lambda: dict(x=W(), p=0.5), {"x": "float tensor", "p": BAD["fraction"] + [1.0],
                                                         "mask": ["mask", torch.ones(2)]}),
    "regularize.EarlyStopping": (lambda: dict(patience=2), {}),
    "overfit.make_curve_data": (lambda: dict(n_train=6, n_val=10), {}),
    "overfit.count_statistics": (lambda: dict(**Xy()), {}),
    "overfit.count_table_loss": (lambda: dict(**Xy(), **val()), {}),
    "regularize.fit_penalized_linear": (lambda: dict(X=torch.randn(6, 2, dtype=torch.float64),
                                                     y=torch.randn(6, dtype=torch.float64), kind="L1", lam=0.1,
                                                     steps=3), {"X": "float tensor", "y": "float tensor"}),
    "chapters.ch03.duplicated_features": (lambda: dict(n=8), {"copy_noise": "amount"}),
    "chapters.ch03.duplicate_weights": (lambda: dict(dup=knobs.chapters.ch03.duplicated_features(n=8)),
                                        {"dup": ["x", None, 3]}),
    "chapters.ch03.duplicate_paths": (lambda: dict(dup=knobs.chapters.ch03.duplicated_features(n=8), lams=[0.1]),
                                      {"dup": ["x", None, 3]}),
    "overfit.CurveMLP": (lambda: dict(hidden=4), {}),
    "overfit.make_curve_mlp": (lambda: dict(hidden=4), {}),
    "overfit.curve_snapshot": (lambda: dict(model=overfit.make_curve_mlp(4), data=curve_data(), step=0),
                               {"model": ["model", None, Linear3], "data": ["data", None]}),
    "overfit.train_curve": (lambda: dict(model=overfit.make_curve_mlp(4), data=curve_data(), steps=2, every=1),
                            {"model": ["model", None, Linear3], "data": ["data", None], "lam": "amount"}),
    "overfit.sweep_lambda": (lambda: dict(data=curve_data(), kind="L2", lams=[0.0, 0.1], steps=2, progress=False),
                             {"data": ["data", None], "lams": [3, None, [math.nan], ["0.1"]]}),
    "overfit.DropoutTinyLM": (lambda: dict(config=models.TinyLMConfig(vocab_size=V)), {"p": "fraction"}),
    "overfit.make_lm": (lambda: dict(vocab_size=V, embed_dim=4, hidden=8), {"dropout": "fraction"}),
    "overfit.fit_lm": (lambda: dict(model=tiny(), **Xy(), **val(), steps=2, every=1),
                       {"early_stopping": ["stop", 3]}),
    "overfit.curves": (lambda: dict(history=overfit.fit_lm(tiny(), **Xy(), **val(), steps=1, every=1)),
                       {"history": [3, None, ["step"]]}),
    "overfit.adam_vs_adamw": (lambda: dict(steps=3), {}),
    "embeddings.one_hot": (lambda: dict(ids=torch.tensor([0, 2]), num_words=3), {}),
    "embeddings.lookup_by_one_hot": (lambda: dict(E=W(), ids=torch.tensor([0, 2])), {"E": "array"}),
    "embeddings.rows_with_gradient": (lambda: dict(grad=W()), {"grad": ["w", 3]}),
    "embeddings.cosine_similarity": (lambda: dict(a=W(), b=W()), {"a": "array", "b": "array"}),
    "embeddings.similarity_matrix": (lambda: dict(E=W()), {"E": "array"}),
    "embeddings.nearest_words": (lambda: dict(E=torch.randn(V, 3), vocab=FARM.vocab, word="cat"), {"E": "array"}),
    "embeddings.analogy": (lambda: dict(E=torch.randn(V, 3), vocab=FARM.vocab, a="cat", b="milk", c="cow"),
                           {"E": "array", "a": "text", "b": "text", "c": "text"}),
    "embeddings.neighbor_agreement": (lambda: dict(E=W(), labels=["a", "a", "b", "b"]), {"E": "array"}),
    "embeddings.chance_agreement": (lambda: dict(labels=["a", "a", "b"]), {}),
    "embeddings.context_profiles": (lambda: dict(ids=[0, 1, 2, 1], num_words=3), {}),
    "embeddings.principal_axes": (lambda: dict(E=W()), {"E": "array"}),
    "embeddings.project": (lambda: dict(E=W(), mean=torch.zeros(6), axes=torch.zeros(6, 2)), {"E": "array"}),
    "embeddings.random_rotation": (lambda: dict(d=3), {}),
    "embeddings.rotate_tiny_lm": (lambda: dict(model=tiny(), R=torch.eye(8)), {"model": "tinylm"}),
    "embeddings.random_invertible": (lambda: dict(d=3), {"stretch": "amount"}),
    "embeddings.transform_tiny_lm": (lambda: dict(model=tiny(), A=2 * torch.eye(8)),
                                     {"model": "tinylm", "A": ["x", None, torch.zeros(8, 8), torch.eye(3)]}),
    "embeddings.TiedTinyLM": (lambda: dict(config=models.TinyLMConfig(vocab_size=V)), {}),
    "embeddings.make_tied_tiny_lm": (lambda: dict(vocab_size=V, embed_dim=4, hidden=8), {}),
    "chapters.ch04.train_on_from_both": (lambda: dict(model=tiny(), rotated=tiny(), **Xy(), X_val=val()["X_val"],
                                                      steps=2), {"model": "tinylm", "rotated": "tinylm"}),
    "embeddings.embedding_share": (lambda: dict(config=models.GPT2Config()), {}),
    "embeddings.parameters_by_vocab_size": (lambda: dict(sizes=[100, 200]), {"sizes": [3, None, [1.5]]}),
    "prune.check_sparsity": (lambda: dict(sparsity=0.5), {}),
    "prune.count_to_prune": (lambda: dict(sparsity=0.5, n=10), {}),
    "prune.magnitude_mask": (lambda: dict(weight=W(), sparsity=0.5), {"weight": "float tensor",
                                                                      "mask": ["mask", torch.ones(2)]}),
    "prune.global_magnitude_masks": (lambda: dict(weights={"a": W()}, sparsity=0.5),
                                     {"masks": [["a"], "a", {"b": torch.ones(4, 6)}]}),
    "prune.structured_mask": (lambda: dict(weight=W(), sparsity=0.5),
                              {"weight": "float tensor", "p": [True, "2", math.nan, -1.0, None]}),
    "prune.prunable_weights": (lambda: dict(model=tiny()), {"model": "tinylm"}),
    "prune.neuron_masks": (lambda: dict(model=tiny(), sparsity=0.5), {"model": "tinylm"}),
    "prune.prune_masks": (lambda: dict(model=tiny(), sparsity=0.5), {"model": "tinylm"}),
    "prune.apply_masks": (lambda: dict(model=tiny(), masks={"hidden.weight": torch.ones(32, 16)}), {}),
    "prune.hold_masks": (lambda: dict(model=tiny(), masks={"hidden.weight": torch.ones(32, 16)}), {}),
    "prune.sparsity_of": (lambda: dict(model=tiny()), {"names": [3, None, ["nope"]]}),
    "prune.shrink_hidden": (lambda: dict(model=tiny()), {"model": "tinylm"}),
    "prune.fine_tune": (lambda: dict(model=tiny(), masks={"hidden.weight": torch.ones(32, 16)}, **Xy(), steps=2,
                                     every=1), {}),
    "prune.sparsity_schedule": (lambda: dict(final=0.9, rounds=3), {}),
    "prune.iterative_prune": (lambda: dict(model=tiny(), **Xy(), **val(), final=0.5, rounds=2, steps_per_round=1,
                                           every=1),
                              {"model": "tinylm"}),
    "prune.lottery_ticket": (lambda: dict(make_model=lambda seed: tiny(), **Xy(), **val(), sparsity=0.5, steps=1,
                                          every=1, reinit_seeds=(1,)), {"reinit_seeds": [3, None, ["1"]]}),
    "prune.winning_ticket_test": (lambda: dict(ticket=[knobs.train.Snapshot(0, {}, {"val_loss": 1.0})],
                                               dense=[knobs.train.Snapshot(0, {}, {"val_loss": 1.0})]),
                                  {"ticket": [3, None, []], "dense": [3, None, []], "key": ["nope"]}),
    "sparse_cost.csr_breakeven": (lambda: dict(rows=4, cols=6), {}),
    "sparse_cost.to_csr": (lambda: dict(weight=W()), {}),
    "sparse_cost.storage_bytes": (lambda: dict(weight=W(), layout="csr"), {"index_dtype": ["int64", None]}),
    "sparse_cost.pruned_versions": (lambda: dict(weight=W(), sparsities=[0.5]), {"sparsities": [3, None, [1.5]]}),
    "sparse_cost.matmul_cases": (lambda: dict(versions=knobs.sparse_cost.pruned_versions(W(), [0.5]), X=W(3, 6)),
                                 {"X": "float tensor"}),
    "quantize.blocks": (lambda: dict(w=W(), granularity="group", group_size=3), {}),
    "quantize.quant_range": (lambda: dict(bits=4, scheme="affine"), {}),
    "quantize.compute_qparams": (lambda: dict(w_blocks=W(), bits=4), {"w_blocks": "float tensor"}),
    "quantize.quantize_codes": (lambda: dict(x=W(), scale=torch.full((4, 1), 0.1), zero_point=0, qmin=-7, qmax=7),
                                {"x": "float tensor", "scale": ["0.1", None, -1.0, math.nan],
                                 "zero_point": ["0", None, 0.5]}),
    "quantize.dequantize_codes": (lambda: dict(q=torch.zeros(4, 6, dtype=torch.int32), scale=torch.full((4, 1), 0.1),
                                               zero_point=0),
                                  {"scale": ["0.1", None, -1.0, math.nan], "zero_point": ["0", None, 0.5]}),
    "quantize.grid_levels": (lambda: dict(scale=torch.tensor([0.1]), zero_point=torch.tensor([0]), bits=3),
                             {"scale": ["0.1", None, -1.0, math.nan], "zero_point": ["0", None, 0.5]}),
    "quantize.quantize_tensor": (lambda: dict(w=W(), bits=4), {"w": "float tensor"}),
    "quantize.fake_quantize": (lambda: dict(w=W(), bits=4), {"w": "float tensor"}),
    "quantize.fake_quantize_keep_outliers": (lambda: dict(w=W(), bits=4), {"w": "float tensor"}),
    "quantize.relative_error": (lambda: dict(w=W(), w_hat=W()), {"w": "float tensor", "w_hat": "float tensor"}),
    "quantize.weight_names": (lambda: dict(model=tiny()), {}),
    "quantize.quantize_model": (lambda: dict(model=tiny(), bits=4), {"names": [3, "hidden.weight", ["nope"]]}),
    "quantize.WeightFakeQuantizer": (lambda: dict(bits=4), {}),
    "quantize.prepare_qat": (lambda: dict(model=tiny(), bits=4), {}),
    "quantize.finish_qat": (lambda: dict(model=knobs.quantize.prepare_qat(tiny())), {}),
    "quantize.quantize_dynamic_int8": (lambda: dict(model=tiny()), {}),
    "quantize.saved_bytes": (lambda: dict(model=tiny()), {}),
    "numformats.int_range": (lambda: dict(bits=4), {}),
    "numformats.number_format": (lambda: dict(name="bf16"), {"name": "choice"}),
    "numformats.bit_fields": (lambda: dict(value=0.5, name="fp16"), {"value": ["0.5", True, None], "name": "choice"}),
    "numformats.value_from_fields": (lambda: dict(fields=numformats_fields(), name="fp16"), {"name": "choice"}),
    "scale.DeepLMConfig": (lambda: dict(), {}),
    "scale.DeepTinyLM": (lambda: dict(config=knobs.scale.DeepLMConfig(layers=2)), {}),
    "scale.make_lm": (lambda: dict(vocab_size=V, layers=2), {}),
    "scale.lm_parameter_count": (lambda: dict(vocab_size=V, context=2, embed_dim=4, hidden=8), {}),
    "scale.width_for_budget": (lambda: dict(budget=2000, vocab_size=V, context=2, embed_dim=4), {}),
    "scale.linear_layers": (lambda: dict(model=tiny()), {"model": "tinylm"}),
    "scale.conditional_entropy": (lambda: dict(tokens=["a", "b", "a", "c"], context=1), {}),
    "scale.entropy_bias_correction": (lambda: dict(tokens=["a", "b", "a", "c"], context=1), {}),
    "scale.attention_flops_per_token": (lambda: dict(config=knobs.models.GPT2Config(), n_ctx=16), {}),
    "scale.kv_cache_bytes": (lambda: dict(config=knobs.models.GPT2Config(), tokens=16), {"tokens": "count"}),
    "scale.chinchilla_loss": (lambda: dict(n_parameters=1e9, tokens=2e10), {"tokens": "amount"}),
    "scale.chinchilla_optimum": (lambda: dict(budget=1e22), {"budget": "amount"}),
    "scale.training_memory_bytes": (lambda: dict(n_parameters=1e6), {}),
    "scale.measured_training_state_bytes": (optimizer_state, {"optimizer": ["adam", None]}),
    "scale.training_flops": (lambda: dict(n_parameters=1e6, tokens=1e9), {"tokens": "amount"}),
    "scale.count_training_flops": (lambda: dict(model=tiny(), batch_size=8), {"model": "tinylm"}),
    "scale.measure_training_flops": (lambda: dict(model=tiny(), **Xy()), {}),
    "scale.non_embedding_weights": (lambda: dict(model=tiny()), {"model": "tinylm"}),
    "scale.order_of_magnitude": (lambda: dict(x=1.2e13), {"x": "amount"}),
    "stacked.StackedLM": (lambda: dict(members=[tiny(), tiny()]), {"members": [3, None, [], ["model"]],
                                                                  "pad_to": [3, "wide", (4,)]}),
    "stacked.batch_indices": (lambda: dict(sizes=[16, 32], steps=2, batch_size=4), {"sizes": [3, None, ["16"]]}),
    "stacked.stacked_losses": (lambda: dict(stack=stack(), **Xy()), {"stack": ["stack", None, Linear3],
                                                                     "members": [3, None, "all"]}),
    "stacked.prefix_losses": (lambda: dict(stack=stack(), **Xy(), sizes=[8, 16]),
                              {"stack": ["stack", None, Linear3], "sizes": [3, None, ["8"]]}),
    "stacked.train_stacked": (lambda: dict(stack=stack(), **Xy(), sizes=[8, 16], **val(), steps=2, batch_size=4,
                                           every=1), {"stack": ["stack", None, Linear3], "sizes": [3, None, ["8"]]}),
    "sweep.make_scale_data": (lambda: dict(), {"farms": [3, None, [0.0], ["1"]]}),
    "sweep.farm_label": (lambda: dict(fraction=0.25), {"fraction": "amount"}),
    "sweep.capacity_sweep": (lambda: dict(d=scale_data(), shapes=[(2, 4)], steps=2, batch_size=8, every=1,
                                          progress=False),
                             {"d": ["data", None], "shapes": [3, None, [(2,)]], "sizes": [3, "small", ["small"]]}),
    "sweep.shape_label": (lambda: dict(shape={"embed_dim": 2, "hidden": 4}), {"shape": "mapping"}),
    "lora.LoRALinear": (lambda: dict(base=nn.Linear(6, 4), rank=2), {"base": ["base", None, nn.Conv1d(2, 2, 1)],
                                                                     "alpha": "amount"}),
    "lora.lora_parameter_count": (lambda: dict(in_features=6, out_features=4, rank=2), {}),
    "lora.gpt2_lora_count": (lambda: dict(config=models.GPT2Config(), rank=4), {}),
    "transfer.split_sentences": (lambda: dict(text="a b .\nc d ."), {}),
    "transfer.make_style_task": (lambda: dict(n_sentences=12), {}),
    "transfer.prepare": (lambda: dict(strategy="LoRA", rank=2), {}),
    "transfer.effective_tensors": (lambda: dict(model=tiny()), {"model": "tinylm"}),
    "transfer.trainable_count": (lambda: dict(model=tiny()), {}),
    "transfer.fine_tune": (lambda: dict(strategy="LoRA", rank=2, steps=2, every=1), {}),
    "transfer.train_on_task": (lambda: dict(model=transfer.prepare("LoRA", rank=2), **Xy(8),
                                            steps=2, every=1),
                               {"model": "tinylm"}),
    "transfer.rehearsal_pairs": (lambda: dict(n_pairs=5), {}),
    "bias.job_sentences": (lambda: dict(skew=0.9, n=10), {}),
    "bias.make_skewed_corpus": (lambda: dict(skew=0.9), {}),
    "bias.next_word_bias": (skewed, {"model": "tinylm"}),
    "bias.embedding_bias": (skewed, {"model": "tinylm"}),
    "bias.job_separation": (skewed, {"model": "tinylm"}),
    "bias.project_out_direction": (skewed, {"model": "tinylm"}),
    "bias.farm_pairs": (lambda: dict(vocab=skewed()["vocab"]), {}),
    "bias.bias_run": (lambda: dict(skew=0.9, steps=2, every=1), {}),
    "bias.train_skewed": (lambda: dict(skew=0.9, steps=2), {}),
    "interpret.single_weight_effects": (lambda: dict(model=tiny(embed_dim=2, hidden=2), vocab=FARM.vocab,
                                                     context="the cat", word="naps"),
                                        {"model": "tinylm", "context": "text"}),
    "interpret.hidden_unit_effects": (lambda: dict(model=tiny(), vocab=FARM.vocab, context="the cat", word="naps"),
                                      {"model": "tinylm", "context": "text"}),
    "interpret.gradient_x_weight": (lambda: dict(model=tiny(), vocab=FARM.vocab, context="the cat", word="naps"),
                                    {"model": "tinylm", "context": "text"}),
    "interpret.hidden_activations": (lambda: dict(model=tiny(), X=FARM.X[:4]), {"model": "tinylm"}),
    "interpret.linear_probe": (lambda: dict(features=W(8, 3), labels=torch.tensor([0, 1] * 4), steps=2),
                               {"features": "float tensor", "labels": "ids", "test_mask": ["mask", torch.ones(8)]}),
    "interpret.zeroing_change": (lambda: dict(model=tiny(), vocab=FARM.vocab, context="the cat", word="naps",
                                              name="out.bias"),
                                 {"model": "tinylm", "context": "text", "index": ["w", (99,), 2.5]}),
    "interpret.control_task_labels": (lambda: dict(X=FARM.X[:8], labels=torch.tensor([0, 1] * 4)),
                                      {"X": "ids", "labels": "ids"}),
    "interpret.probe_selectivity": (lambda: dict(features=W(8, 3), X=FARM.X[:8], labels=torch.tensor([0, 1] * 4)),
                                    {"features": "float tensor"}),
    "interpret.selectivity_over_controls": (lambda: dict(features=W(8, 3), X=FARM.X[:8],
                                                         labels=torch.tensor([0, 1] * 4)),
                                            {"features": "float tensor", "X": "ids", "labels": "ids",
                                             "control_seeds": [None, [0, -1], [0]]}),
    "bias.data_bias": (lambda: dict(sentences=["the farmer said he feeds the cow .", "the vet said she feeds the cat ."]),
                       {"sentences": ["w", None, [3]]}),
    "hyperparameters.random_search_lr": (lambda: dict(**Xy(), **val(), vocab_size=V, trials=1, steps=1), {}),
    "timing.compare_seconds": (lambda: dict(candidates={"f": lambda: None}, rounds=1),
                               {"candidates": "mapping", "number": [True, 2.5, "3", -1]}),
    "timing.compare_rounds": (lambda: dict(candidates={"f": lambda: None}, rounds=1),
                              {"candidates": "mapping", "number": [True, 2.5, "3", -1]}),
    "timing.ratio_spread": (lambda: dict(samples={"a": [1.0, 2.0], "b": [1.0, 1.0]}, numerator="a", denominator="b"),
                            {"samples": [None, {"a": [1.0, 2.0], "b": [1.0, 0.0]}], "numerator": ["c"]}),
    "gpt.GPTConfig": (lambda: dict(n_embd=8, n_head=2), {"n_inner": "count", "layer_norm_epsilon": "amount",
                                                         "dropout": BAD["fraction"] + [1.0]}),
    "gpt.CausalSelfAttention": (lambda: dict(c=gpt_config()), {}),
    "gpt.MLP": (lambda: dict(c=gpt_config()), {}),
    "gpt.Block": (lambda: dict(c=gpt_config()), {}),
    "gpt.GPT": (lambda: dict(config=gpt_config()), {}),
    "checkpoints.config_from_hf": (lambda: dict(hf=checkpoints.config_to_hf(gpt_config())),
                           {"hf": [["a"], None, {"model_type": "gpt2"}]}),
    "checkpoints.config_to_hf": (lambda: dict(c=gpt_config()), {}),
    "checkpoints.load_state_dict_hf": (lambda: dict(model=small_gpt(), state_dict=checkpoints.hf_state_dict(small_gpt())),
                               {"model": ["model", None, Linear3]}),
    "checkpoints.from_safetensors": (lambda: dict(path=standin_folder()), {"path": [3, None, "/nonexistent/folder"]}),
    "checkpoints.hf_state_dict": (lambda: dict(model=small_gpt()), {"model": ["model", None, Linear3]}),
    "checkpoints.to_safetensors": (lambda: dict(model=small_gpt(), directory=Path(tempfile.gettempdir()) / "knobs-public-api"),
                           {"model": ["model", None, Linear3]}),
    "gpt.parameter_groups": (lambda: dict(model=small_gpt()), {"model": ["model", None, Linear3]}),
    "gpt.perplexity": (lambda: dict(model=small_gpt(), ids=[1, 2, 3]), {"model": ["model", None, Linear3]}),
    "gpt.generate": (lambda: dict(model=small_gpt(), ids=[1, 2], max_new_tokens=2),
                     {"model": ["model", None, Linear3]}),
    "checkpoints.parameter_count": (lambda: dict(c=gpt_config()), {}),
    "gpt.windows": (lambda: dict(n_tokens=10, context=4, stride=2), {"n_tokens": "count", "context": "count"}),
    "weightonly.quantize_blocks": (lambda: dict(w=W(2, 32), fmt="Q4_0"),
                                   {"w": "float tensor", "fmt": "choice"}),
    "weightonly.fake_quantize_blocks": (lambda: dict(w=W(2, 32), fmt="Q8_0"),
                                        {"w": "float tensor", "fmt": "choice"}),
    "weightonly.quantize_weights": (lambda: dict(model=nn.Linear(32, 2), fmt="Q4_0", names=["weight"]),
                                    {"fmt": "choice", "names": [3, None, ["nope"], [3]]}),
    "pretrained.WordTokenizer": (lambda: dict(vocab={"the": 0, "cat": 1}), {"vocab": [["the"], "the", None,
                                                                                      {"the": "0"}]}),
    "pretrained.BPETokenizer": (lambda: dict(path="/nonexistent/tokenizer.json"), {"path": [3, None]}),
    "pretrained.load_standin": (lambda: dict(), {}),
    "pretrained.hub_reachable": (lambda: dict(timeout=0.01), {}),
    "pretrained.load_gpt2": (lambda: dict(prefer="standin"), {}),
    "pretrained.unigram_perplexity": (lambda: dict(train_ids=[0, 1, 1], eval_ids=[1], vocab_size=2), {}),
    # ---- the lab machinery ----------------------------------------------------------------------------------------
    "lab.lab.Slider": (lambda: dict(name="lr", label="learning rate", min=0.001, max=1.0, default=0.01, log=True),
                       {"name": "text", "label": "text", "min": "real", "max": "real", "default": "real",
                        "twin": [3, None, ["0.1"], [5.0]], "fmt": "text"}),
    "lab.lab.Choice": (lambda: dict(name="kind", label="penalty", options=("L1", "L2")),
                       {"name": "text", "label": "text", "options": [3, None, ()], "default": ["L3"],
                        "twin": [3, None, ["L3"]], "fmt": "text"}),
    "lab.lab.Lab": (lambda: dict(name="test-lab", title="A lab", controls=[], run=lambda values, steps, every: iter(()),
                                 views=[]),
                    {"name": "text", "title": "text", "controls": [3, None, ["lr"]], "views": [3, None, ["view"]],
                     "panel_size": [3, "wide", (1,), (0, 10)], "play_seconds": "amount", "fps": "amount"}),
    "lab.lab.frame_steps": (lambda: dict(steps=10, n_frames=3), {}),
    "lab.lab.time_frames": (lambda: dict(lab=a_lab(), n=1), {"values": [3, "lr", {"nope": 1}]}),
    "lab.twin.render_setting": (lambda: dict(lab=a_lab(), values={}, wanted_steps=[0, 1], pool=knobs.lab.twin.ImagePool()),
                                {"values": [3, "lr", {"nope": 1}], "wanted_steps": [3, None, ["1"]],
                                 "pool": [3, None, {}]}),
    "lab.twin.twin_data": (lambda: dict(lab=a_lab(), progress=False), {}),
    "lab.twin.describe": (lambda: dict(data={"title": "A lab"}, frame={"text": "step 0", "alt": ["a panel"]}),
                          {"data": [3, None, {}], "frame": [3, None, {"text": "x"}]}),
    "lab.render.Panel": (lambda: dict(view=knobs.lab.views.LossView(), total_steps=10),
                         {"view": [3, None, "view"], "size": [3, "wide", (1,)]}),
    "lab.views.heatmap_mesh": (lambda: dict(ax=axes(), values=np.zeros((2, 3))),
                               {"values": [np.zeros(3), np.zeros((1, 2, 3))], "cmap": AUTHORED, "limit": "amount"}),
    "lab.twin.build_twin_html": (lambda: dict(lab=a_lab(), progress=False), {}),
    "lab.render.Renderer": (lambda: dict(views=[knobs.lab.views.LossView()], total_steps=10),
                            {"views": [3, None, [], ["view"]], "size": [3, "wide", (1,)]}),
    "lab.views.HeatmapView": (lambda: dict(param="hidden.weight"), {"param": "text", "title": DISPLAY}),
    "lab.views.HistogramView": (lambda: dict(params="hidden.weight"), {"params": [3, None, [3]], "title": DISPLAY}),
    "lab.views.CurvesView": (lambda: dict(metrics=["val_loss"]),
                             {"metrics": [3, None, "val_loss", [3]], "title": DISPLAY, "ylabel": DISPLAY,
                              "labels": "mapping", "ylim": [3, "low", (1,), (2.0, 1.0)], "reference": "mapping",
                              "legend": [3], "colors": [3], "fmt": "text", "yticks": [3, "1"], "summary": "text"}),
    "lab.views.LossView": (lambda: dict(), {"metrics": [3, None, "val_loss", [3]], "title": DISPLAY,
                                            "ylabel": DISPLAY}),
    "lab.views.PredictionsView": (lambda: dict(context="the cat", words=["naps"]), {"context": "text"}),
    "lab.views.WordLabels": (lambda: dict(ax=axes(), texts=["cat"]), {"fontsize": "amount", "color": "text"}),
    "lab.live.LiveLab": (lambda: dict(lab=a_lab()), {}),
    "lab.watch.GradNormView": (lambda: dict(names=["w"]), {"names": [3, None, [3]]}),
    "lab.watch.Watcher": (lambda: dict(model=tiny(), display=False), {"budget": BAD["fraction"] + [0.0, 1.0]}),
    "lab.watch.watch": (lambda: dict(model=tiny(), display=False), {"budget": BAD["fraction"] + [0.0, 1.0]}),
    # ---- chapters: what a notebook calls where a learner sees it ---------------------------------------------------
    "chapters.ch01.ablation_groups": (lambda: dict(model=tiny(), vocab=FARM.vocab,
                                                   effects=torch.zeros(sum(p.numel() for p in tiny().parameters()))),
                                      {"effects": [3, None, torch.zeros(3), torch.zeros(2, 2)], "threshold": "amount"}),
    "chapters.ch02.draw_surface": (lambda: dict(ax=axes(), lines=2), {}),
    "chapters.ch02.incoming_only_equal_run": (lambda: dict(steps=1), {}),
    "chapters.ch02.symmetry_run": (lambda: dict(values={"init": "all zero", "noise": 0.0}, steps=2, every=1),
                                   {"values": [3, None, {"init": "nope"}, {"noise": -1.0}]}),
    "chapters.ch05.measure": (lambda: dict(model=tiny()), {}),
    "chapters.ch08.best_step": (lambda: dict(snaps=list(transfer.fine_tune("LoRA", rank=2, steps=2, every=1))),
                                {"snaps": [[], "runs", None, [1, 2]]}),
    "chapters.ch08.set_adapters": (lambda: dict(model=transfer.prepare("LoRA", rank=2), enabled=False),
                                   {"model": "tinylm"}),
    "chapters.ch08.forgetting_table": (lambda: dict(pretrained=tiny(), full=tiny(), lora=transfer.prepare("LoRA", rank=2),
                                                    task=transfer.make_style_task()),
                                       {"pretrained": "tinylm", "full": "tinylm", "lora": ["lora", None, tiny()],
                                        "task": ["task", None, {}]}),
    "chapters.ch05.sweep": (lambda: dict(kind="layer-wise", sparsities=(0.5,)), {"sparsities": [3, None, (1.5,)]}),
    "chapters.ch09.mitigation_table": (lambda: dict(skew=0.9), {}),
    "chapters.ch09.realised_skews": (lambda: dict(skews=(0.5, 0.9)), {"skews": [3, None, (1.5,)]}),
    "chapters.ch06.cpu_flags": (lambda: dict(path="/proc/cpuinfo"), {"path": [3, None, ""]}),
    "chapters.ch06.draw_formats": (lambda: dict(ax=axes(), names=("fp16",)), {"names": [3, None, ("fp8",)]}),
    "chapters.ch06.draw_grid_histogram": (lambda: dict(ax=axes(), w=W(), levels=[-0.5, 0.5], title="t"),
                                          {"w": "array", "levels": "array", "title": DISPLAY, "span": "amount"}),
    "chapters.ch07.scale_sweep": (lambda: dict(progress=False), {}),
    "chapters.ch07.shape_comparison": (lambda: dict(progress=False), {"budget_shape": BAD["count"] + [5]}),
    "chapters.ch07.plot_capacity": (lambda: dict(sweep=sweep_result(), floor=0.3), {"sweep": ["sweep", None]}),
    "chapters.ch07.plot_shapes": (lambda: dict(result=sweep_result(), floor=0.3), {"result": ["sweep", None]}),
    "chapters.ch07.plot_compute": (lambda: dict(sweep=sweep_result()), {"sweep": ["sweep", None]}),
    "chapters.ch10.load": (lambda: dict(prefer="standin"), {}),
    "chapters.ch10.which_model": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.heldout_ids": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.file_keys": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.count_rows": (lambda: dict(model=standin().model), {"model": GPT_MODEL}),
    "chapters.ch10.tying": (lambda: dict(model=standin().model), {"model": GPT_MODEL}),
    "chapters.ch10.weight_histograms": (lambda: dict(model=small_gpt()), {"model": GPT_MODEL}),
    "chapters.ch10.matrix_stats": (lambda: dict(model=small_gpt()), {"model": GPT_MODEL}),
    "chapters.ch10.matrix_figure": (lambda: dict(stats=ch10_stats()), {"stats": [3, None, [], [{"name": "x"}]]}),
    "chapters.ch10.largest_weights": (lambda: dict(model=small_gpt(), k=2),
                                      {"model": GPT_MODEL, "kinds": [3, None, ["nope"], [3]]}),
    "chapters.ch10.residual_magnitudes": (lambda: dict(model=small_gpt(), ids=[1, 2, 3]), {"model": GPT_MODEL}),
    "chapters.ch10.outlier_figure": (lambda: dict(magnitudes=torch.rand(2, 8, 4)),
                                     {"magnitudes": [[1.0], "w", None, torch.ones(3)]}),
    "chapters.ch10.nearest_tokens": (lambda: dict(lm=standin(), word="cow", k=2), {"lm": LM}),
    "chapters.ch10.cosine_figure": (lambda: dict(lm=standin(), words=("cat", "dog")),
                                    {"lm": LM, "words": [3, None, ["cat"], [3, "dog"]]}),
    "chapters.ch10.tied_prediction": (lambda: dict(lm=standin(), context="the cow", k=2),
                                      {"lm": LM, "context": "text"}),
    "chapters.ch10.prune_sweep": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.prune_figure": (lambda: dict(sweep={"sparsity": [0.5], "dense": 2.0, "layer-wise": [2.1],
                                                       "global": [2.2]}), {"sweep": [3, None, {"dense": 2.0}]}),
    "chapters.ch10.global_shares": (lambda: dict(model=small_gpt(), sparsity=0.5), {"model": GPT_MODEL}),
    "chapters.ch10.pruning_time": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.quantize_sweep": (lambda: dict(lm=standin()), {"lm": LM}),
    "chapters.ch10.quantize_figure": (lambda: dict(sweep={"bits": [8, 2], "float": 2.0, "tensor": [2.0, 9.0],
                                                          "channel": [2.0, 3.0], "group": [2.0, 2.5], "Q4_0": 2.0,
                                                          "Q8_0": 2.0}), {"sweep": [3, None, {"bits": [8]}]}),
    "chapters.ch10.memory_table": (lambda: dict(c=gpt_config()), {}),
    "chapters.ch10.lora_rows": (lambda: dict(model=small_gpt(), ranks=(1, 2)),
                                {"model": GPT_MODEL, "ranks": [3, None, [0], ["1"]]}),
    "chapters.ch10.gpt2_estimate": (lambda: dict(lm=standin()),
                                    {"lm": LM, "evaluations": [["a"], "a", {"tokens": 3}],
                                     "compressions": [["a"], "a", {"copy": 1}]}),
    # ---- exercises ---------------------------------------------------------------------------------------------
    "exercises.checker.exercise": (lambda: dict(exercise_id="ch99.walk"), {"choices": [3, "ab", [3]]}),
    "exercises.checker.multiple_choice": (lambda: dict(exercise_id="ch99.walk", question="Which?", right="a",
                                                       feedback={"a": "yes", "b": "no"}),
                                          {"right": ["c", 3, None], "feedback": [["a"], "a", None, {}]}),
    "exercises.checker.one_of": (lambda: dict(answer="a", choices=("a", "b")), {"answer": ANSWER}),
    "exercises.checker.describe_call": (lambda: dict(args=(1,), kwargs={}), {"args": [3, None], "kwargs": "mapping"}),
    "exercises.checker.as_number": (lambda: dict(answer=1.5), {"answer": ANSWER}),
    "exercises.checker.as_whole_number": (lambda: dict(answer=3), {"answer": ANSWER}),
    "exercises.checker.is_close": (lambda: dict(answer=1.0, expected=1.0), {"answer": ANSWER}),
    "exercises.checker.direction_hint": (lambda: dict(answer=1.0, expected=2.0), {"answer": ANSWER}),
    "exercises.quiz.load_questions": (lambda: dict(chapter="ch01"), {}),
    "exercises.quiz.quiz_html_and_script": (lambda: dict(chapter="ch01"), {}),
    "exercises.quiz.show": (lambda: dict(chapter="ch01"), {}),
    "exercises.ch02.max_lr_loss": (lambda: dict(theta=torch.zeros(2)), {"theta": ["w", None, [1.0]]}),
    "exercises.ch05.csr_bytes": (lambda: dict(nnz=10), {}),
    "exercises.ch05.breakeven_sparsity": (lambda: dict(per_value=12, fixed=100), {}),
    "exercises.ch06.clip_errors": (lambda: dict(W=W()), {"W": "float tensor"}),
}

# Rows walked with bad values only: their valid call is slow, needs the network or an optional package, and
# their own tests make it. A bad argument is refused before any of that work starts.
NOT_RUN = {
    "chapters.ch05.sweep": "a pruning sweep: seconds (tests/chapters/test_ch05.py)",
    "chapters.ch07.scale_sweep": "the capacity sweep: seconds (tests/chapters/test_ch07.py)",
    "chapters.ch07.shape_comparison": "a capacity sweep: seconds (tests/chapters/test_ch07.py)",
    "sweep.make_scale_data": "reads and encodes the larger corpus: about 2 s (tests/unit/test_sweep.py)",
    "pretrained.hub_reachable": "asks the Hugging Face Hub (the test runs with HF_HUB_OFFLINE=1)",
    "pretrained.BPETokenizer": "needs the optional tokenizers package and GPT-2's tokenizer.json",
    "chapters.ch10.prune_sweep": "a pruning sweep: seconds (tests/chapters/test_ch10.py)",
    "chapters.ch10.quantize_sweep": "a quantization sweep: seconds (tests/chapters/test_ch10.py)",
    "chapters.ch10.pruning_time": "interleaved timing rounds: seconds (tests/chapters/test_ch10.py)",
    "chapters.ch10.gpt2_estimate": "times a GPT-2-shaped block and output layer: seconds (tests/chapters/test_ch10.py)",
}


# ---- exemptions of whole callables, each with its reason -----------------------------------------------------------
RECORD = "a record: a dataclass the library fills in and returns; its fields are results, not knobs"
VALIDATORS = ("the validation vocabulary itself: its `value` is whatever a caller was given (anything), and the rest "
              "is written by knobs' authors next to the call")
EXEMPT = {
    "data.Vocab": RECORD, "data.Corpus": RECORD, "data.FarmSplit": RECORD, "models.ParameterRow": RECORD,
    "models.ParameterTable": RECORD, "train.Snapshot": RECORD, "regularize.AdamState": RECORD,
    "regularize.DecayGroups": RECORD, "overfit.CurveData": RECORD, "numformats.NumberFormat": RECORD,
    "quantize.QuantizedTensor": RECORD, "weightonly.BlockQuantized": RECORD, "scale.RealModel": RECORD, "sweep.ScaleData": RECORD,
    "sweep.SweepResult": RECORD, "transfer.StyleTask": RECORD, "pretrained.LoadedGPT": RECORD,
    "exercises.checker.CheckResult": RECORD,
    "quantize.FakeQuantizeSTE": ("a torch.autograd.Function, applied (.apply) by WeightFakeQuantizer, which validates "
                                 "the options"),
    "exercises.checker.check": "never raises (issue 18, part 4): a bad exercise id or answer becomes a message",
    **{f"validate.{name}": VALIDATORS for name, obj in vars(knobs.validate).items()
       if callable(obj) and getattr(obj, "__module__", "") == "knobs.validate" and not name.startswith("_")},
}


# ---- the tests ------------------------------------------------------------------------------------------------------
WALK = public_callables()
NEEDS_ROW = sorted(name for name, obj in WALK.items()
                   if name not in EXEMPT and not (inspect.isclass(obj) and issubclass(obj, BaseException))
                   and parameters(obj))


def test_every_public_callable_with_parameters_has_a_row_or_a_written_exemption():
    missing = [name for name in NEEDS_ROW if name not in VALID]
    assert not missing, ("public callables the API walk does not know; add a row to VALID in "
                         f"tests/unit/test_public_api.py (a valid call), or an EXEMPT entry with its reason: {missing}")


def test_the_table_names_only_callables_that_exist():
    stale = sorted(set(VALID) - set(NEEDS_ROW)) + sorted(set(EXEMPT) - set(WALK))
    assert not stale, f"rows for callables that are not public (or not walked) any more: {stale}"


@contextlib.contextmanager
def isolated():
    """No trace of a call: the exercise registry, torch's thread count and the random streams come back as they were."""
    registry, choices = dict(checker.REGISTRY), dict(checker.CHOICES)
    threads, states = torch.get_num_threads(), (torch.random.get_rng_state(), np.random.get_state(), random.getstate())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        checker.REGISTRY.clear(), checker.REGISTRY.update(registry)
        checker.CHOICES.clear(), checker.CHOICES.update(choices)
        torch.set_num_threads(threads)
        torch.random.set_rng_state(states[0]), np.random.set_state(states[1]), random.setstate(states[2])


def call(obj, kwargs):
    """Call and run far enough for validation to happen: a generator's first step, a context manager's entry."""
    result = obj(**kwargs)
    if inspect.isgenerator(result):
        next(result, None)
        result.close()
    elif isinstance(result, contextlib.AbstractContextManager) and not isinstance(result, nn.Module):
        with result:
            pass
    return result


def names(message: str, param: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(param)}(?!\w)", message) is not None


def problems_with(obj, factory, overrides: dict, run_valid: bool = True) -> list[str]:
    """Every bad value of every parameter that `obj` accepts, or refuses without naming the parameter and the value."""
    problems = []
    with isolated():
        if run_valid:
            call(obj, factory())  # the row's call is valid: otherwise every refusal below proves nothing
        for param in parameters(obj):
            kind = kind_of(param, overrides)
            if isinstance(kind, Exempt):
                continue
            if kind is None:
                problems.append(f"{param.name}: kind unknown; name it in the row's overrides")
                continue
            for bad in bad_values(param, kind):
                shown = f"{param.name}={bad!r:.40}"
                try:
                    call(obj, {**factory(), param.name: bad})
                except (ValueError, TypeError) as error:
                    message = str(error)
                    if not names(message, param.name):
                        problems.append(f"{shown}: {type(error).__name__} does not name it: {message!r:.160}")
                    elif "got" not in message and repr(bad) not in message:
                        problems.append(f"{shown}: the message does not say what it got: {message!r:.160}")
                except Exception as error:  # noqa: BLE001 -- a bare KeyError or AttributeError is what this catches
                    problems.append(f"{shown}: {type(error).__name__}: {str(error)[:160]}")
                else:
                    problems.append(f"{shown}: accepted")
    return problems


@pytest.mark.parametrize("name", sorted(VALID))
def test_bad_arguments_are_refused_with_a_message_naming_them(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a refusal that regressed must not reach for the network
    factory, overrides = VALID[name]
    problems = problems_with(WALK[name], factory, overrides, run_valid=name not in NOT_RUN)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_the_walk_catches_a_function_that_does_not_validate():
    """The test above can fail: a function that trusts its arguments, and one whose message names nothing."""
    def scale_by(w: torch.Tensor, factor: float = 2.0):
        return w * factor

    def clamp_steps(steps: int = 3):
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError("bad value")
        return steps

    found = problems_with(scale_by, lambda: dict(w=W()), {})
    assert any(p.startswith("factor=nan: accepted") for p in found) and any("w='w'" in p for p in found), found
    assert all("does not name it" in p for p in problems_with(clamp_steps, dict, {})), "a message must name steps"
    assert problems_with(lambda d: knobs.validate.check_int("d", d, 1), lambda: dict(d=3), {}) == []
