"""The lab machinery: one declaration -> a live ipywidgets lab in Jupyter and a static twin in the book.

    from knobs.lab import Choice, Lab, Slider
    lab = Lab("ch01-hyper", "Turn the hyperparameters", controls=[...], run=run, views=[...])
    lab.show()

lab.py declares a lab and runs it; live.py is its ipywidgets face, twin.py (+ twin.js) its static
face; render.py blits and encodes frames; views.py holds the generic drawers; watch.py shows any
model's parameters while your own loop trains it. Training code never imports this package.
"""
from knobs.lab.lab import Choice, Lab, Slider

__all__ = ["Choice", "Lab", "Slider"]
