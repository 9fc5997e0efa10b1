"""make bench: how fast and how big the book is, measured (budgets are read, not asserted).

Writes _build/bench.json:
  notebooks: {name: {seconds}}                 each chapter top to bottom, live mode, kernel start excluded
  labs: {name: {frame_ms_median, naive_ms_median, speedup}}
      frame = one live frame (train a chunk + blit + encode); naive = the usual `interact`
      callback: retrain from step 0 to a mid-run step, draw a new figure, savefig to PNG
  pages: {path: {bytes, images, largest_image}} HTML plus every local image it references; its inlined images
                                                (twin frames' layers, figures): how many, and the largest's bytes
  watch: {overhead_pct}                         knobs.lab.watch's cost on a training loop
  book_build_seconds                            a clean build (no execution cache), into a temp folder
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"notebook_seconds": 20.0, "frame_ms": 1000 / 60, "speedup": 10.0, "page_bytes": 2 * 1024 ** 2}


def time_notebook(path: Path) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "KNOBS_STATIC"}  # the learner's path: live labs
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            record_timing=True)
    os.environ.clear(); os.environ.update(env)
    client.execute()
    stamps = [c.metadata["execution"] for c in nb.cells if c.cell_type == "code" and "execution" in c.metadata]
    start = datetime.fromisoformat(stamps[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(stamps[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def naive_frame_ms(lab, values: dict, step: int, repeats: int = 5) -> list[float]:
    """The usual way: an interact callback that retrains from scratch and draws a brand-new figure (the same
    panels side by side, at the same pixels per CSS px as the lab's)."""
    import io

    import matplotlib.pyplot as plt

    from knobs.figures import DPI, book_style, inches

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        lab.reset(values)
        while lab.snapshot.step < step and lab.advance(draw=False):
            pass
        views = [make() for make in lab.views]
        sizes = lab.renderer.css_sizes()
        with book_style():
            fig, axes = plt.subplots(1, len(views), figsize=(inches(sum(w for w, _ in sizes)),
                                                             inches(max(h for _, h in sizes))))
            for view, ax in zip(views, list(getattr(axes, "flat", [axes]))):
                view.setup(ax, lab.steps)
                view.update(lab.snapshot, lab.history)
                for artist in view.artists:
                    artist.set_animated(False)
            fig.savefig(io.BytesIO(), format="png", dpi=DPI)
        plt.close(fig)
        times.append((time.perf_counter() - started) * 1e3)
    return times


def bench_labs() -> dict:
    from knobs.chapters import all_labs
    from knobs.lab.lab import time_frames

    results = {}
    for name, factory in all_labs().items():
        lab = factory()
        frames = time_frames(lab, n=60)
        naive = naive_frame_ms(lab, lab.defaults(), step=lab.steps // 2)
        results[name] = {"frame_ms_median": round(statistics.median(frames), 2),
                         "naive_ms_median": round(statistics.median(naive), 1),
                         "speedup": round(statistics.median(naive) / statistics.median(frames), 1)}
    return results


def bench_watch(steps: int = 2000) -> dict:
    import torch

    from knobs import models
    from knobs.data import farm_split
    from knobs.lab.watch import watch

    vocab, X, y, *_ = farm_split()

    def loop(watched: bool) -> float:
        model = models.make_tiny_lm(len(vocab), seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=0.03)
        watcher = watch(model, display=False) if watched else None
        started = time.perf_counter()
        for i in range(steps):
            idx = torch.arange(i * 64, i * 64 + 64) % len(y)
            loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(); loss.backward(); opt.step()
        if watcher:
            watcher.close()
        return time.perf_counter() - started

    loop(False)  # warm up
    # plain and watched runs alternate, and each watched run is compared with the plain run next to it:
    # a machine whose speed drifts (a shared VM) then shifts both sides of each pair alike
    pairs = [(loop(False), loop(True)) for _ in range(5)]
    overhead = statistics.median(watched / plain - 1 for plain, watched in pairs)
    return {"overhead_pct": round(100 * overhead, 1), "loop_seconds": round(statistics.median(p for p, _ in pairs), 3)}


def page_bytes(html_root: Path) -> dict:
    pages = {}
    for page in sorted(list((html_root / "notebooks").glob("*.html")) + list((html_root / "book").glob("*.html"))):
        text = page.read_text(errors="replace")
        total = len(page.read_bytes())
        for src in set(re.findall(r'<img[^>]+src="([^"]+)"', text)):
            if not src.startswith(("data:", "http")):
                image = (page.parent / src).resolve()
                total += image.stat().st_size if image.exists() else 0
        inlined = {data for data in re.findall(r"data:image/[a-z+]+;base64,([A-Za-z0-9+/=]+)", text)}
        largest = max((len(data) * 3 // 4 for data in inlined), default=0)
        pages[str(page.relative_to(html_root))] = {"bytes": total, "images": len(inlined), "largest_image": largest}
    return pages


def clean_build_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = (ROOT / "_config.yml").read_text().replace("execute_notebooks: cache", "execute_notebooks: force")
        # local_extensions paths are relative to the config file: this copy lives elsewhere
        config = re.sub(r"^(\s+[\w.]+: )tools(\s|$)", rf"\g<1>{ROOT / 'tools'}\2", config, flags=re.M)
        (Path(tmp) / "_config.yml").write_text(config)
        started = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--path-output", tmp,
                        "--config", str(Path(tmp) / "_config.yml"), "-q"],
                       check=True, env={**os.environ, "KNOBS_STATIC": "1"}, stdout=subprocess.DEVNULL)
        return round(time.perf_counter() - started, 1)


def table(results: dict) -> str:
    ok = lambda good: "ok " if good else "OVER"  # noqa: E731
    lines = ["", f"{'notebook':<34}{'seconds':>10}   budget 20 s"]
    for name, r in results["notebooks"].items():
        lines.append(f"{name:<34}{r['seconds']:>10.1f}   {ok(r['seconds'] <= BUDGETS['notebook_seconds'])}")
    lines += ["", f"{'lab':<34}{'frame ms':>10}{'naive ms':>10}{'speedup':>9}   budget 16.7 ms, 10x"]
    for name, r in results["labs"].items():
        good = r["frame_ms_median"] <= BUDGETS["frame_ms"] and r["speedup"] >= BUDGETS["speedup"]
        lines.append(f"{name:<34}{r['frame_ms_median']:>10.1f}{r['naive_ms_median']:>10.1f}{r['speedup']:>8.0f}x   {ok(good)}")
    lines += ["", f"{'page':<34}{'MB':>10}{'images':>8}{'largest KB':>12}   budget 2 MB"]
    for name, r in results["pages"].items():
        lines.append(f"{name:<34}{r['bytes'] / 1024 ** 2:>10.2f}{r.get('images', 0):>8}"
                     f"{r.get('largest_image', 0) / 1024:>12.1f}   {ok(r['bytes'] <= BUDGETS['page_bytes'])}")
    lines += ["", f"knobs.lab.watch overhead: {results['watch']['overhead_pct']}% (budget 20%)",
              f"clean book build: {results['book_build_seconds']} s", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "_build" / "bench.json"))
    parser.add_argument("--no-build", action="store_true", help="skip the clean book build timing")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    results = {"notebooks": {}, "labs": bench_labs(), "watch": bench_watch()}
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        results["notebooks"][path.stem] = {"seconds": round(time_notebook(path), 2)}
    results["pages"] = page_bytes(ROOT / "_build" / "html")
    results["book_build_seconds"] = None if args.no_build else clean_build_seconds()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(table(results) if results["book_build_seconds"] is not None else table({**results, "book_build_seconds": "skipped"}))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
