"""Draw a knobs.autograd expression as a computational graph with matplotlib (chapter 2; no graphviz).

Each Value is a box with its name and value; after `backward()` the box also
shows its gradient, the derivative of the output with respect to it. Each
operation is a small circle feeding the box it produced. Inputs stand left,
the output right, so the forward pass reads left to right and the backward
pass right to left.
"""
from __future__ import annotations

import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from knobs.autograd import Value, topological_order
from knobs.figures import CONTENT_WIDTH, PALETTE, TICK_SIZE, TITLE_SIZE, book_style, inches
from knobs.validate import check_axes, check_bool, check_instance, check_number, check_text

GRAD_COLOR = PALETTE[5]  # vermillion: gradients, the backward pass
DATA_COLOR = "#222222"
COLUMN = 1.7  # horizontal distance between columns, in row heights
OP_NAMES = {"+": "+", "-": "−", "*": "×", "/": "÷", "exp": "exp", "log": "log", "tanh": "tanh", "relu": "relu"}


def layout(root: Value) -> dict[int, tuple[float, float]]:
    """(x, y) for each node: x by longest distance from the output, y so each node sits between its inputs."""
    check_instance("root", root, Value, "a knobs.autograd Value")
    order = topological_order(root)
    depth = {id(root): 0}
    for node in reversed(order):  # outputs before inputs: a node's depth is final when it is reached
        for child in node._prev:
            depth[id(child)] = max(depth.get(id(child), 0), depth[id(node)] + 1)
    deepest = max(depth.values())
    y, slots = {}, [0]

    def place(node):  # leaves take the next free row in reading order; others sit midway between inputs
        if id(node) in y:
            return y[id(node)]
        if not node._prev:
            y[id(node)] = -float(slots[0])
            slots[0] += 1
        else:
            y[id(node)] = float(np.mean([place(child) for child in node._prev]))
        return y[id(node)]

    place(root)
    return {id(n): (COLUMN * (deepest - depth[id(n)]), y[id(n)]) for n in order}


def node_name(node: Value) -> str:
    """A node's label, or its value when it has none (a constant)."""
    check_instance("node", node, Value, "a knobs.autograd Value")
    return node.label or f"{node.data:.3g}"


def draw_graph(root: Value, ax, show_grad: bool = True, params: tuple = ()) -> None:
    """Draw `root`'s graph on `ax`: values in black, gradients d(root)/d(node) in vermillion when `show_grad`.

    Nodes whose label is in `params` (the knobs training would turn) get a thick blue frame.
    """
    check_instance("root", root, Value, "a knobs.autograd Value")
    check_axes("ax", ax)
    check_bool("show_grad", show_grad)
    check_instance("params", params, (tuple, list, set, frozenset), "a tuple of node labels")
    positions = layout(root)
    xs, ys = zip(*positions.values())
    box_w, box_h, gap, radius = 1.1, 0.78, 0.45, 0.21  # in column units: boxes leave room for the operation circles
    for node in topological_order(root):
        x, y = positions[id(node)]
        constant = not node._prev and not node.label
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.02",
                                    facecolor="#f3f3f3" if constant else "white",
                                    edgecolor=PALETTE[0] if node.label in params else "#555555",
                                    lw=2.2 if node.label in params else 1))
        text = f"{node_name(node)}\n{node.data:.3f}" if node.label else f"{node.data:.3g}"
        ax.text(x, y + (0.12 if show_grad else 0), text, ha="center", va="center", fontsize=TICK_SIZE,
                color=DATA_COLOR, linespacing=1.15)
        if show_grad:
            ax.text(x, y - box_h / 2 + 0.13, f"grad {node.grad:.3f}", ha="center", va="center", fontsize=TICK_SIZE,
                    color=GRAD_COLOR, fontweight="bold")
        if node._prev:
            ox = x - box_w / 2 - gap / 2
            ax.add_patch(Circle((ox, y), radius, facecolor="#e8f1f8", edgecolor=PALETTE[0], lw=1))
            op = OP_NAMES.get(node._op, node._op.replace("**", "^"))
            ax.text(ox, y, op, ha="center", va="center", fontsize=TICK_SIZE)
            ax.add_patch(FancyArrowPatch((ox + radius, y), (x - box_w / 2, y), arrowstyle="-|>", mutation_scale=8,
                                         color="#555555", lw=1))
            for child in node._prev:
                cx, cy = positions[id(child)]
                ax.add_patch(FancyArrowPatch((cx + box_w / 2, cy), (ox - radius, y), arrowstyle="-|>",
                                             mutation_scale=8, color="#555555", lw=1,
                                             connectionstyle="arc3,rad=0.0"))
    ax.set_xlim(min(xs) - box_w, max(xs) + box_w / 2 + 0.1)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")


def graph_figure(root: Value, wrt: str = "L", params: tuple = (), inch_per_unit: float = 0.95):
    """Two panels: the forward pass (values) above, the backward pass (values and gradients) below.

    Drawn at the book's sizes (knobs.figures): a box holds its text at 11 px, so a graph of more than a few
    columns is wider than a phone (show it with show_figure(..., wide=True)).
    """
    check_instance("root", root, Value, "a knobs.autograd Value")
    check_text("wrt", wrt)
    check_instance("params", params, (tuple, list, set, frozenset), "a tuple of node labels")
    check_number("inch_per_unit", inch_per_unit, 0, 10, low_open=True)
    from matplotlib.figure import Figure

    xs, ys = zip(*layout(root).values())
    inch_per_unit = min(inch_per_unit, inches(CONTENT_WIDTH - 8) / (max(xs) - min(xs) + 1.6))  # fits the column
    width, height = (max(xs) - min(xs) + 1.6) * inch_per_unit, (max(ys) - min(ys) + 1.0) * inch_per_unit
    with book_style():
        fig = Figure(figsize=(width, 2 * height + 0.6))
        top, bottom = fig.subplots(2, 1)
        draw_graph(root, top, show_grad=False, params=params)
        top.set_title("forward pass: values flow left to right", fontsize=TITLE_SIZE, loc="left")
        draw_graph(root, bottom, show_grad=True, params=params)
        bottom.set_title(f"backward pass: gradients d{wrt}/d(node) flow right to left", fontsize=TITLE_SIZE,
                         loc="left", color=GRAD_COLOR)
    return fig


def describe_graph(root: Value, show_grad: bool = True, wrt: str = "L") -> str:
    """Alt text: every named node with its value (and gradient), in forward order."""
    check_instance("root", root, Value, "a knobs.autograd Value")
    check_bool("show_grad", show_grad)
    check_text("wrt", wrt)
    parts = []
    for node in topological_order(root):
        if node.label:
            part = f"{node.label} = {node.data:.3f}"
            if show_grad:
                name = f"({node.label})" if " " in node.label else node.label
                part += f" (gradient d{wrt}/d{name} = {node.grad:.3f})"
            parts.append(part)
    return "Computational graph, inputs on the left, output on the right: " + "; ".join(parts) + "."
