"""Migrate a chapter to markup that renders the same in the HTML book and in JupyterLab (issue 16).

    python tools/myst_migrate.py notebooks/NN_topic.ipynb [...]     # in place; then `make record NB=...`
    python tools/myst_migrate.py --check notebooks/NN_topic.ipynb   # exit 1 if it would change anything

Mechanical and idempotent: a migrated chapter comes out unchanged, and a chapter from a branch that
predates the migration (or a merge that brought old markup back) is migrated by running it again.
What it does, so that a reviewer can read each chapter's diff as the same moves (CONTRIBUTING.md):

1. A glue key that is also one of the notebook's names (a variable, function, import) becomes
   NAME_text, in the glue call and in the prose: chapter.glue binds its key in the kernel, for
   {eval}, and refuses to replace a name that later code may still use as a number.
2. {glue:text}`name` -> {eval}`name`. jupyterlab-myst shows a glue role as its bare key; {eval} it
   evaluates in the kernel, and the book answers it from the glue data (tools/bookext/evalglue.py).
   A format spec ({glue:text}`name:.2f`) is refused: format in the glue call.
3. Citations become links whose text is what the book prints: {cite:p}`k` -> [(Author et al., 2019)](#cite:p:k),
   {cite:t}`k` -> [Author et al. (2019)](#cite:t:k); a {cite:p} inside parentheses becomes
   [Author et al., 2019](#cite:alp:k) (no nested brackets). JupyterLab shows the link text (jupyterlab-myst
   has no bibliography: a role shows its bare key); the book turns the link back into a
   sphinxcontrib-bibtex citation (tools/bookext/citelink.py; bibtex_reference_style author_year_round).
4. Glue statements move next to the computation they read: each statement of a glue cell (a cell
   that calls chapter.glue) goes into a `remove-cell` glue cell just before the first markdown cell
   after the last code cell that assigns a name it reads. JupyterLab evaluates a markdown cell's
   {eval} when Run All reaches it, so the names must be bound by then; the book does not care.
   The script stops, naming the statement, when a glue statement would still come after the prose
   quoting it (split the computation, or compute the number in knobs.chapters.chNN) or when a helper
   it moves assigns a name the visible cells use. It cannot see a value changed in place after the
   statement's new position: `tools/nb.py record` then shows the number change in the diff.
5. A solution cell's first line becomes "# Solution" (JupyterLab previews a collapsed cell by its first
   line: "# Solution: embeddings 29·4, ..." would give the answer away); the old comment follows it.
6. A sentence under the "## References" heading: JupyterLab renders the bibliography directive as nothing.
7. tools/nb.py collapse_metadata: the tags that hide a cell in the book collapse it in Jupyter.
8. A solution cell is tagged `hide-cell`, not `hide-input`: the book folds its output too (a solution's printed
   numbers and its check's "Correct!" would otherwise stand open under the exercise, the answer in plain view).
9. The tip box's runtime is the budget, not a typed measurement ("about 12 s" was a build machine's number; the
   last cell prints this run's time, and how much of it was computing).
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nb import SOLUTION_FIRST_LINE, collapse_metadata  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIB = ROOT / "book" / "references.bib"
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`]+)`")
PROSE_KEY = re.compile(r"(\{(?:glue:text|eval)\}`)([^`]+)`")
GLUE_CALL = re.compile(r"chapter\.glue\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
CITE_ROLE = re.compile(r"\{cite:(p|t)\}`([^`]+)`")
GLUE_HEADER = "# The numbers the text below quotes (computed above; the book hides this cell)"
OLD_HEADER = re.compile(r"^# The numbers( and verdicts)? (the prose states|the text below quotes)")
REFERENCES_NOTE = ("Each citation in the text names its authors and year. The book lists the works in full below; "
                   "in a notebook, find them on the book's References page or in `book/references.bib`.")


# ---- 1. glue keys that are also the notebook's names ---------------------------------------------------------
def _code(source: str) -> str:
    """A code cell's Python, without IPython's magics and shell lines."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def assigned_names(source: str) -> set[str]:
    """Names a piece of code binds: assignments, loop and with targets, functions, classes, imports.

    Not a comprehension's own variables: they live in the comprehension's scope.
    """
    tree = ast.parse(_code(source))
    own = {id(n) for comp in ast.walk(tree) if isinstance(comp, ast.comprehension) for n in ast.walk(comp.target)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and id(node) not in own:
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def read_names(node: ast.AST) -> set[str]:
    """Names a statement reads from outside itself (not the ones it binds, e.g. a loop's own variables)."""
    loads = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stores = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return loads - stores - set(dir(builtins))


def is_glue_cell(cell) -> bool:
    return cell.cell_type == "code" and "chapter.glue(" in cell.source


def rename_clashing_glue_keys(nb) -> dict[str, str]:
    defined = set().union(*[assigned_names(c.source) for c in nb.cells if c.cell_type == "code"])
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    keys = set(GLUE_CALL.findall(code)) | {key for _, key in PROSE_KEY.findall(prose)}
    renames = {k: f"{k}_text" for k in sorted(keys & defined)}
    for cell in nb.cells:
        for old, new in renames.items():
            if cell.cell_type == "code":
                cell.source = re.sub(rf"(chapter\.glue\(\s*)([\"']){old}\2", rf"\g<1>\g<2>{new}\g<2>", cell.source)
            else:
                cell.source = re.sub(rf"(\{{(?:glue:text|eval)\}}`){old}`", rf"\g<1>{new}`", cell.source)
    return renames


# ---- 2. glue roles -> eval roles ---------------------------------------------------------------------------------
def glue_to_eval(source: str) -> str:
    def repl(m):
        key = m.group(1)
        if ":" in key:
            raise SystemExit(f"{{glue:text}}`{key}` has a format spec or a document path: format it in the glue call")
        return f"{{eval}}`{key}`"
    return GLUE_ROLE.sub(repl, source)


# ---- 3. citations as links ------------------------------------------------------------------------------------------
def bib_entries():
    from pybtex.database import parse_file

    return parse_file(str(BIB)).entries


def author_year(key: str, entries) -> tuple[str, str]:
    """(authors, year) as sphinxcontrib-bibtex's author_year style prints them: A; A and B; A et al."""
    entry = _entry(key, entries)
    people = entry.persons.get("author") or entry.persons.get("editor")
    last = [" ".join(p.prelast_names + p.last_names).replace("{", "").replace("}", "") for p in people]
    names = last[0] if len(last) == 1 else f"{last[0]} and {last[1]}" if len(last) == 2 else f"{last[0]} et al."
    return names, entry.fields["year"]


def _entry(key: str, entries):
    return entries[key if key in entries else re.sub(r"^ch\d\d-", "", key)]


def cite_text(kind: str, keys: list[str], entries) -> str:
    """What the book prints for {cite:KIND}`keys` with the author_year_round style: the link's text.

    Several works are printed in the bibliography's order (pybtex's author_year_title sorting), not the
    order of the keys, separated by "; " in parentheses (tools/bookext/citelink.py).
    """
    if len(keys) > 1:
        from pybtex.plugin import find_plugin

        order = find_plugin("pybtex.style.sorting", "author_year_title")().sort([_entry(k, entries) for k in keys])
        keys = sorted(keys, key=lambda k: next(i for i, e in enumerate(order) if e is _entry(k, entries)))
    pairs = [author_year(k, entries) for k in keys]
    if kind == "p":
        return "(" + "; ".join(f"{a}, {y}" for a, y in pairs) + ")"
    if kind == "alp":
        return "; ".join(f"{a}, {y}" for a, y in pairs)
    if kind == "t":
        return ", ".join(f"{a} ({y})" for a, y in pairs)
    raise ValueError(f"citation kind {kind!r}: write p, t or alp")


def _open_parentheses(before: str) -> int:
    """How many parentheses are open at the end of `before` (a paragraph's text up to a citation)."""
    text = re.sub(r"`[^`]*`|\$[^$]*\$", "", before.split("\n\n")[-1])  # code and maths don't count
    text = re.sub(r"\]\([^)]*\)", "]", text)                          # nor a link's target
    return text.count("(") - text.count(")")


CITE_LINK = re.compile(r"\[[^\]]*\]\(#cite:(p|t|alp):([^)]+)\)")


def cites_to_links(source: str, entries) -> str:
    """{cite} roles -> links; the text of existing links refreshed from the .bib (and their kind, in parentheses)."""
    out, last = [], 0
    for m in sorted([*CITE_ROLE.finditer(source), *CITE_LINK.finditer(source)], key=lambda m: m.start()):
        kind, keys = m.group(1), [k.strip() for k in m.group(2).split(",")]
        if kind == "p" and _open_parentheses(source[:m.start()]) > 0:
            kind = "alp"  # "(weight tying, Press and Wolf, 2017)", not "(weight tying, (Press and Wolf, 2017))"
        out += [source[last:m.start()], f"[{cite_text(kind, keys, entries)}](#cite:{kind}:{','.join(keys)})"]
        last = m.end()
    return "".join(out) + source[last:]


# ---- 4. glue statements next to the computation they read -----------------------------------------------------------
def _statements(source: str) -> list[tuple[str, ast.stmt]]:
    """A cell's top-level statements, each with its source and the comment lines just above it."""
    lines, tree = source.splitlines(), ast.parse(_code(source))
    pieces, start = [], 0
    for node in tree.body:
        text = "\n".join(lines[start:node.end_lineno])
        text = "\n".join(line for line in text.splitlines() if not OLD_HEADER.match(line) and line.strip())
        pieces.append((text, node))
        start = node.end_lineno
    return pieces


def move_glue(nb) -> int:
    """Rebuild the glue cells where the numbers they glue are computed. Returns how many glue cells there are."""
    cells = [c for c in nb.cells if not is_glue_cell(c)]
    statements = []  # (original position among `cells`, source, node)
    for i, cell in enumerate(nb.cells):
        if is_glue_cell(cell):
            if "remove-cell" not in cell.metadata.get("tags", []):
                raise SystemExit(f"cell {i} calls chapter.glue but is not tagged remove-cell: glue belongs in "
                                 "hidden cells")
            position = sum(1 for c in nb.cells[:i] if not is_glue_cell(c))
            statements += [(position, text, node) for text, node in _statements(cell.source)]
    if not statements:
        return 0
    visible_code = [c for c in cells if c.cell_type == "code"]
    used_by_visible = set().union(*[{n.id for n in ast.walk(ast.parse(_code(c.source))) if isinstance(n, ast.Name)}
                                    for c in visible_code])
    helper_target: dict[str, int] = {}  # name a moved helper statement assigns -> its target
    placed: dict[int, list[str]] = {}   # index in `cells` to insert before -> statement sources
    for position, text, node in statements:
        after = -1  # the last cell (index in `cells`) that assigns a name the statement reads
        for name in read_names(node):
            if name in helper_target:  # inserted before cell T: it runs after cell T - 1
                after = max(after, helper_target[name] - 1)
                continue
            defining = [j for j, c in enumerate(cells[:position]) if c.cell_type == "code"
                        and name in assigned_names(c.source)]
            if defining:
                after = max(after, defining[-1])
        target = next((j for j in range(after + 1, position) if cells[j].cell_type == "markdown"), position)
        keys = set(GLUE_CALL.findall(text))
        users = [j for j, c in enumerate(cells) if c.cell_type == "markdown"
                 and keys & {k for _, k in PROSE_KEY.findall(c.source)}]
        if users and users[0] < target:
            raise SystemExit(f"{text!r} reads what is computed below the first prose that quotes it (cell "
                             f"{users[0]} of the notebook without its glue cells): compute it earlier")
        loop_variables = {n.id for loop in ast.walk(node) if isinstance(loop, ast.For) for n in ast.walk(loop.target)
                          if isinstance(n, ast.Name)}  # `for name, text in numbers.items()`: no value of their own
        moved = assigned_names(text) - keys - loop_variables
        if moved & used_by_visible:
            raise SystemExit(f"{text!r} assigns {sorted(moved & used_by_visible)}, which visible cells use: "
                             "keep that in a visible cell")
        for name in moved:
            helper_target[name] = target
        placed.setdefault(target, []).append(text)
    rebuilt = []
    for j, cell in enumerate(cells + [None]):
        if j in placed:
            source = "\n".join([GLUE_HEADER] + placed[j])
            glue = nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})
            glue.id = "glue-" + hashlib.sha1(source.encode()).hexdigest()[:8]
            rebuilt.append(glue)
        if cell is not None:
            rebuilt.append(cell)
    nb.cells = rebuilt
    return len(placed)


# ---- 5. and 6. solutions' first lines, the References sentence --------------------------------------------------------
def neutral_solution_first_lines(nb) -> None:
    for cell in nb.cells:
        if "solution" not in cell.metadata.get("tags", []) or cell.cell_type != "code":
            continue
        first, _, rest = cell.source.partition("\n")
        if SOLUTION_FIRST_LINE.match(first):
            continue
        if first.startswith("#"):  # "# Solution: the reason" -> "# Solution" / "# The reason"
            reason = re.sub(r"^#\s*(Solution\s*:?)?\s*", "", first)
            cell.source = f"# Solution\n# {reason[:1].upper()}{reason[1:]}\n{rest}".rstrip("\n")
        else:
            cell.source = "# Solution\n" + cell.source


def fold_solution_outputs(nb) -> None:
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and "solution" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = ["hide-cell" if t == "hide-input" else t for t in tags]
            if "hide-cell" not in cell.metadata["tags"]:
                cell.metadata["tags"].insert(0, "hide-cell")


RUNTIME_TYPED = re.compile(r"\*\*Runtime\*\* (?:about|under) \d+ s on (?:a|an idle) 2-core (?:laptop|CPU)(?! \(the book)")
RUNTIME_BUDGET = "**Runtime** under 20 s on an idle 2-core CPU (the book's budget, measured by `make bench`)"


def runtime_as_budget(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and RUNTIME_TYPED.search(cell.source):
            cell.source = RUNTIME_TYPED.sub(RUNTIME_BUDGET.replace("\\", "\\\\"), cell.source, count=1)


def references_note(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "## References" in cell.source and REFERENCES_NOTE not in cell.source:
            cell.source = re.sub(r"^(## References\n)\n?", rf"\1\n{REFERENCES_NOTE}\n\n", cell.source, count=1, flags=re.M)


def migrate(nb, entries=None) -> None:
    entries = entries if entries is not None else bib_entries()
    renamed = rename_clashing_glue_keys(nb)
    if renamed:
        print(f"  glue keys renamed (they are also the notebook's names): {renamed}")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cites_to_links(glue_to_eval(cell.source), entries)
    move_glue(nb)
    neutral_solution_first_lines(nb)
    fold_solution_outputs(nb)
    runtime_as_budget(nb)
    references_note(nb)
    collapse_metadata(nb)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    entries = bib_entries()
    for path in [a for a in argv if a != "--check"]:
        nb = nbformat.read(path, as_version=4)
        migrate(nb, entries)
        nbformat.validate(nb)
        if nbformat.writes(nb) + "\n" != Path(path).read_text():  # nbformat.write ends the file with a newline
            changed.append(path)
            if not check:
                nbformat.write(nb, path)
        print(f"{path}: {('would change' if check else 'migrated') if path in changed else 'unchanged'}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
