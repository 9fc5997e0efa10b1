"""Time chapter 10's experiments on a randomly initialised model of GPT-2 small's exact shape (no download).

    .venv/bin/python tools/time_gpt2_shape.py          # one torch thread, as the chapter runs

The machines that build and test the book cannot reach the Hugging Face Hub, so the chapter has never run here
on the real GPT-2 weights. Compute time does not depend on the weights' values, so this runs the chapter's own
functions (knobs.chapters.ch10) on GPT-2 small's shapes -- 124,439,808 random parameters -- reading the held-out
text with the stand-in's word tokenizer (333 tokens; GPT-2's byte-level tokenizer gives a few more), and prints
how long each step takes. It leaves out what the real run adds: the download (about half a gigabyte, once) and the
time to read the file.
"""
import time

import torch

from knobs import chapter, gpt, pretrained
from knobs.chapters import ch10


class FarmWords(pretrained.WordTokenizer):
    """The stand-in's words, reading any of GPT-2's 50,257 ids back as one of them (random weights pick any id)."""

    def decode(self, ids) -> str:
        return super().decode([int(i) % self.vocab_size for i in ids])


def main() -> None:
    ch = chapter.start(10)
    steps = {}
    started = time.perf_counter()
    model = gpt.GPT(gpt.GPTConfig()).eval()  # GPT-2 small, random weights (GPT-2's initialisation)
    steps["build a random GPT-2 small"] = time.perf_counter() - started
    lm = pretrained.LoadedGPT(model, FarmWords(pretrained.load_standin().tokenizer.ids), "gpt2", "random weights",
                              "GPT-2 small's shape with random weights (tools/time_gpt2_shape.py)")
    ids = ch10.heldout_ids(lm)
    ch10.load = lambda prefer="hub": lm  # the lab compresses "the loaded model": this one
    work = {
        "count and tie": lambda: (ch10.count_rows(model), ch10.tying(model)),
        "weight histograms": lambda: ch10.weight_histograms(model),
        "matrix statistics": lambda: ch10.matrix_figure(ch10.matrix_stats(model)),
        "residual stream": lambda: ch10.outlier_figure(ch10.residual_magnitudes(model, ids)),
        "prune sweep (12 settings)": lambda: ch10.prune_sweep(lm),
        "global shares": lambda: ch10.global_shares(model, 0.5),
        "pruning time": lambda: ch10.pruning_time(lm, 0.5),
        "quantize sweep (14 settings)": lambda: ch10.quantize_sweep(lm),
        "LoRA counts": lambda: ch10.lora_rows(model),
        "lab: one knob setting and 8 words": lambda: _lab(),
    }
    for name, run in work.items():
        started = time.perf_counter()
        run()
        steps[name] = time.perf_counter() - started
        print(f"{name:36}{steps[name]:8.1f} s", flush=True)
    print(f"{'total':36}{sum(steps.values()):8.1f} s   ({ch10.EVALUATIONS['count']} perplexity evaluations of "
          f"{len(ids)} tokens, {ch10.COMPRESSIONS['copy']} compressed copies)")
    estimate = ch10.gpt2_estimate(lm)
    print(f"the chapter's own estimate for these: {estimate['seconds']:.0f} s")
    print(ch.runtime())


def _lab():
    lab = ch10.compression_lab()
    lab.reset()
    while lab.advance(draw=False):
        pass


if __name__ == "__main__":
    with torch.no_grad():
        main()
