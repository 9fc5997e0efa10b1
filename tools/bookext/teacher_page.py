"""Sphinx directives for the teacher's guide: chapter overview, dependency map, runtimes, sequences.

Nothing on the guide is typed in: each directive reads the chapter notebooks (bookext.teacher) and
the benchmark (_build/bench.json from `make bench`) at build time, and notes them as dependencies,
so the page is rebuilt whenever a chapter, a quiz or the benchmark changes.

    ```{knobs-chapters}
    ```
    ```{knobs-dependency-map}
    ```
    ```{knobs-runtimes}
    ```
    ```{knobs-sequence} One week
    Day 1: 1, 2
    ```
Enabled in _config.yml (`sphinx: local_extensions: {bookext.teacher_page: tools}`).
"""
from __future__ import annotations

import base64
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from PIL import Image
from sphinx.util.docutils import SphinxDirective

from bookext import teacher
from knobs.figures import DPI, LEGEND_SIZE, PIXEL_RATIO, TICK_SIZE, inches

BUDGET_SECONDS = 20.0


def _root(env) -> Path:
    return Path(env.srcdir)


def _chapters(directive: SphinxDirective) -> list[teacher.ChapterInfo]:
    root = _root(directive.env)
    infos = teacher.chapters(root)
    for info in infos:
        directive.env.note_dependency(str(info.path))
    for path in sorted((root / "lib" / "knobs" / "quizzes").glob("*.json")):
        directive.env.note_dependency(str(path))
    return infos


def _link(info: teacher.ChapterInfo, env) -> str:
    label = f"{info.number}. {info.title}"
    return f"{{doc}}`{label} </{info.docname}>`" if info.docname in env.found_docs else label


def _parse(directive: SphinxDirective, text: str) -> list[nodes.Node]:
    """Generated MyST text -> nodes (MyST's directive state parses nested content as MyST)."""
    container = nodes.container()
    directive.state.nested_parse(StringList(text.splitlines(), source="teachers-guide"), directive.content_offset,
                                 container)
    return container.children


def _quiz_size(info: teacher.ChapterInfo) -> int:
    from knobs.exercises import quiz

    try:
        return len(quiz.load_questions(info.key))
    except ValueError:
        return 0


class ChaptersDirective(SphinxDirective):
    """Per chapter: objectives (from its "You will learn to" box), needs, exercises, quiz."""

    def run(self):
        lines = []
        for info in _chapters(self):
            needs = ", ".join(f"chapter {n}" for n in info.prerequisites) or "no earlier chapter"
            if info.helpful:
                needs += "; helped by " + ", ".join(f"chapter {n}" for n in info.helpful)
            checked = len(info.exercises)
            quiz_size = _quiz_size(info)
            lines += [f"**{_link(info, self.env)}**", "",
                      f"*Needs:* {needs}. *Exercises:* {len(info.exercise_numbers)} ({checked} auto-checked)."
                      f" *Quick quiz:* {f'{quiz_size} questions' if quiz_size else 'none yet'}.", "",
                      "*Learners will be able to:*", ""]
            lines += [f"- {objective}" for objective in info.objectives] or ["- (the chapter lists no objectives)"]
            if info.needs:
                lines += ["", f"*What the chapter says it needs:* {info.needs}"]
            lines += [""]
        return _parse(self, "\n".join(lines))


def map_edges(infos: list[teacher.ChapterInfo]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(needs, helps) edges to draw: a need implied by a longer path of needs (1→2→3 implies 1→3) is left out."""
    needs = {info.number: set(info.prerequisites) for info in infos}

    def reachable(start: int, goal: int, skip_direct: bool) -> bool:
        stack = [n for n in needs.get(start, ()) if not (skip_direct and n == goal)]
        seen: set[int] = set()
        while stack:
            n = stack.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(needs.get(n, ()))
        return False

    solid = [(p, info.number) for info in infos for p in info.prerequisites
             if p in needs and not reachable(info.number, p, skip_direct=True)]
    dashed = [(p, info.number) for info in infos for p in info.helpful if p in needs]
    return solid, dashed


def short_title(title: str) -> str:
    """The part of a title before its subtitle ("Embeddings — parameters that…" -> "Embeddings")."""
    return re.split(r"\s+[—–]\s+|:\s+", title, maxsplit=1)[0]


def draw_dependency_map(infos: list[teacher.ChapterInfo]) -> tuple[bytes, str]:
    """The chapters in reading order, an arc from each chapter to the ones that need it; (PNG bytes, alt text).

    The chapters stand in a column, top to bottom; "needs" arcs bend out on the right, "helps" arcs (dashed) on
    the left: an arc never crosses a box. Drawn by the book's display rule (knobs.figures): text at 11 pt is
    11 CSS px, two pixels per CSS px, narrow enough for a phone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    solid, dashed = map_edges(infos)
    y = {info.number: -i for i, info in enumerate(infos)}
    rad = 0.3  # an arc over d chapters bends out 0.5 * rad * d; one data unit is as wide as it is tall (below)
    unit = inches(30)  # one row of the column per 30 CSS px
    right = max((0.5 * rad * abs(y[b] - y[a]) for a, b in solid), default=0) + 0.4
    left = max((0.5 * rad * abs(y[b] - y[a]) for a, b in dashed), default=0) + 0.4
    fig = Figure(figsize=(4, unit * (len(infos) + 1.6)), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis("off")
    labels = [ax.text(0, y[info.number], f"{info.number}. {short_title(info.title)}", ha="center", va="center",
                      fontsize=TICK_SIZE, zorder=3) for info in infos]
    fig.canvas.draw()  # the labels' widths: every box as wide as the widest, so the arcs clear them all
    half = max(label.get_window_extent().width for label in labels) / DPI / unit / 2 + 0.35
    fig.set_size_inches(unit * (2 * half + left + right), unit * (len(infos) + 1.6))
    ax.set_xlim(-half - left, half + right)
    ax.set_ylim(-len(infos) - 0.6, 1.0)
    for info in infos:
        ax.add_patch(FancyBboxPatch((-half, y[info.number] - 0.34), 2 * half, 0.68, boxstyle="round,pad=0,rounding_size=0.15",
                                    fc="#e8f0fa", ec="#24476b", lw=1, zorder=2))
    for edges, color, style, side in ((solid, "#24476b", "-", 1), (dashed, "#7a8ca3", "--", -1)):
        for a, b in edges:
            ax.annotate("", xy=(side * half, y[b] + 0.1), xytext=(side * half, y[a] - 0.1), zorder=1,
                        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.2, linestyle=style, shrinkA=0, shrinkB=0,
                                        connectionstyle=f"arc3,rad={-rad * side}"))
    if dashed:
        ax.plot([], [], color="#24476b", lw=1.2, label="needs (right)")
        ax.plot([], [], color="#7a8ca3", lw=1.2, linestyle="--", label="helps (left)")
        ax.legend(loc="lower center", fontsize=LEGEND_SIZE, frameon=False, ncol=2, borderaxespad=0.1)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue(), dependency_alt(infos)


def dependency_alt(infos: list[teacher.ChapterInfo]) -> str:
    def chapters(numbers):
        return ("chapters " if len(numbers) > 1 else "chapter ") + " and ".join(str(n) for n in numbers)

    parts = []
    for info in infos:
        part = f"chapter {info.number} ({info.title}) needs " + (chapters(info.prerequisites) if info.prerequisites
                                                                   else "no other chapter")
        parts.append(part + (f" and is helped by {chapters(info.helpful)}" if info.helpful else ""))
    return (f"Dependency map of the {len(infos)} chapters, a solid arrow from a chapter to each one that needs it, "
            "a dashed arrow to each one it helps: " + "; ".join(parts) + ".")


class DependencyMapDirective(SphinxDirective):
    """The chapters as boxes, an arrow from each chapter to those whose "You need" line names it."""

    def run(self):
        infos = _chapters(self)
        png, alt = draw_dependency_map(infos)
        uri = "data:image/png;base64," + base64.b64encode(png).decode()
        width = Image.open(io.BytesIO(png)).size[0] // PIXEL_RATIO  # shown at its CSS width: sharp, text at 11 px
        figure = nodes.figure("", nodes.image(uri=uri, alt=alt, candidates={"?": uri}, width=f"{width}px"),
                              classes=["knobs-dependency-map"])
        figure += nodes.caption("", "How the chapters build on each other, read from each chapter's "
                                    "\u201cYou need\u201d line: arcs on the right for needs, dashed arcs on the left for helps.")
        return [figure]


class runtime_table(nodes.General, nodes.Element):
    """Placeholder, filled when every chapter has been executed (doctree-resolved)."""


class RuntimesDirective(SphinxDirective):
    """Measured runtimes: make bench's numbers when present, else this build's own execution times."""

    def run(self):
        _chapters(self)
        self.env.note_dependency(str(_root(self.env) / "_build" / "bench.json"))
        return [runtime_table()]


def _table(headers: list[str], rows: list[list[nodes.Node | str]]) -> nodes.table:
    table = nodes.table(classes=["knobs-runtimes"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in headers)
    head = nodes.thead()
    group += head
    head += nodes.row("", *[nodes.entry("", nodes.paragraph(text=h)) for h in headers])
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=cell))
        body += row
    return table


def bench_rows(infos: list[teacher.ChapterInfo], bench: dict) -> list[list[str]]:
    """Per chapter, from make bench's results: [runtime, live-lab frame medians, page size]."""
    rows = []
    for info in infos:
        seconds = bench.get("notebooks", {}).get(info.stem, {}).get("seconds")
        frames = [r["frame_ms_median"] for name, r in bench.get("labs", {}).items() if name.startswith(info.key + "-")]
        page = bench.get("pages", {}).get(f"{info.docname}.html", {}).get("bytes")
        runtime = "not measured yet" if seconds is None else (
            f"{seconds:.1f} s" + ("" if seconds <= BUDGET_SECONDS else " (over budget)"))
        rows.append([runtime, ", ".join(f"{f:.1f} ms" for f in frames) or "—",
                     f"{page / 1024 ** 2:.2f} MB" if page else "—"])
    return rows


def fill_runtime_tables(app, doctree, fromdocname):
    env = app.env
    tables = list(doctree.findall(runtime_table))
    if not tables:
        return
    root = _root(env)
    infos = teacher.chapters(root)
    bench_path = root / "_build" / "bench.json"
    bench = json.loads(bench_path.read_text()) if bench_path.is_file() else None

    def chapter_cell(info):
        para = nodes.paragraph()
        if info.docname in env.found_docs:
            ref = nodes.reference("", f"{info.number}. {info.title}",
                                  refuri=app.builder.get_relative_uri(fromdocname, info.docname), internal=True)
            para += ref
        else:
            para += nodes.Text(f"{info.number}. {info.title}")
        return para

    if bench:
        when = datetime.fromtimestamp(bench_path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d")
        intro = (f"Measured by `make bench` on {when}: each chapter top to bottom in a fresh kernel, the way a learner "
                 f"runs it (live labs), kernel start excluded; the live-lab frame is one Play step (train a chunk, "
                 f"redraw, encode), median of 60. The budget is {BUDGET_SECONDS:.0f} s per chapter.")
        rows = [[chapter_cell(info), *cells] for info, cells in zip(infos, bench_rows(infos, bench))]
        table = _table(["chapter", "runs top to bottom", "live-lab frame (median)", "HTML page"], rows)
    else:
        intro = ("`make bench` has not been run for this build, so these are the times this book build took to execute "
                 "each chapter (including precomputing the static lab twins, which a learner's run skips): an upper "
                 "bound for a learner on the build machine. Run `make bench` for the learner's numbers.")
        from myst_nb.sphinx_ import NbMetadataCollector

        rows = []
        for info in infos:
            data = NbMetadataCollector.get_exec_data(env, info.docname) if info.docname in env.found_docs else None
            runtime = data.get("runtime") if data else None
            rows.append([chapter_cell(info), f"{runtime:.1f} s" if runtime else "not measured"])
        table = _table(["chapter", "executed in the book build"], rows)
    for placeholder in tables:
        placeholder.replace_self([_paragraph_with_code(intro), table])


def _paragraph_with_code(text: str) -> nodes.paragraph:
    """A paragraph whose `backquoted` parts are inline code (built after parsing, so no MyST here)."""
    para = nodes.paragraph()
    for i, part in enumerate(text.split("`")):
        if part:
            para += nodes.literal(part, part) if i % 2 else nodes.Text(part)
    return para


class SequenceDirective(SphinxDirective):
    """A suggested sequence: "label: chapter numbers" per line, checked against the prerequisites."""

    has_content = True
    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        infos = {info.number: info for info in _chapters(self)}
        sessions = teacher.parse_sequence("\n".join(self.content))
        lines = [f"**{self.arguments[0]}**", "", "| session | chapters |", "|---|---|"]
        for label, numbers in sessions:
            cells = [_link(infos[n], self.env) if n in infos else f"chapter {n} (not in the book yet)" for n in numbers]
            lines.append(f"| {label} | {'; '.join(cells) or '—'} |")
        problems = teacher.sequence_problems(sessions, list(infos.values()))
        if problems:
            lines += ["", ":::{warning}", "This sequence does not follow the dependency map: " + "; ".join(problems) + ".",
                      ":::"]
        return _parse(self, "\n".join(lines))


def setup(app):
    app.add_node(runtime_table, html=(lambda self, node: None, lambda self, node: None))
    app.add_directive("knobs-chapters", ChaptersDirective)
    app.add_directive("knobs-dependency-map", DependencyMapDirective)
    app.add_directive("knobs-runtimes", RuntimesDirective)
    app.add_directive("knobs-sequence", SequenceDirective)
    app.connect("doctree-resolved", fill_runtime_tables)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
