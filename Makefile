# Turning the Knobs — every target creates what it needs (.venv, packages, browser) on a clean clone.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUILD := _build
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export MPLBACKEND := Agg
# The book's models are tiny: one torch thread is as fast on an idle machine and 10x faster on a busy one.
export OMP_NUM_THREADS := 1

.PHONY: help venv book test test-unit test-lib test-notebooks test-html test-browser test-student test-nbgrader test-install bench student nbgrader clean freeze browser npm record nbval-copies

help:
	@echo "make book   build the HTML book into $(BUILD)/html (executes every notebook)"
	@echo "make test   the whole test suite: library, notebooks (nbval), built HTML, browser, JupyterLab"
	@echo "make bench  runtimes, live-lab frame times and page sizes -> $(BUILD)/bench.json"
	@echo "make student  the student edition (no solutions) -> $(BUILD)/student/ and $(BUILD)/student.zip"
	@echo "make nbgrader  an nbgrader course, one assignment per chapter -> $(BUILD)/nbgrader/"

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# MathJax (served with the HTML: no CDN) and axe-core (accessibility tests), pinned in package-lock.json.
NODE_MODULES := node_modules/.package-lock.json
$(NODE_MODULES): package.json package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error

npm: $(NODE_MODULES)
book: $(NODE_MODULES)

# Debian's chromium for the browser tests (Playwright's own browser download does not work here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The execution cache and Sphinx key on notebook files only: drop both when the knobs library changes.
book: $(STAMP)
	@mkdir -p $(BUILD); h=$$(cat $$(find lib -name '*.py' -o -name '*.txt' -o -name '*.js' -o -name '*.json' | sort) | sha1sum); \
	  if [ "$$h" != "$$(cat $(BUILD)/.knobs-hash 2>/dev/null)" ]; then rm -rf $(BUILD)/.jupyter_cache $(BUILD)/.doctrees; echo "$$h" > $(BUILD)/.knobs-hash; fi
	KNOBS_STATIC=1 $(VENV)/bin/jupyter-book build . -W -n --keep-going

# The fast loop: one file per library module.
test-unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

# The library and the chapters' code (no built book, no browser, no kernel).
test-lib: $(STAMP)
	$(PY) -m pytest tests -m "not html and not browser and not student and not nbgrader and not install" -q

# nbval runs on copies of the notebooks (git keeps them without outputs) with the checked cells' expected
# outputs, recorded in notebooks/expected/, merged in.
NBVAL := $(BUILD)/nbval
nbval-copies: $(STAMP)
	rm -rf $(NBVAL)
	$(PY) tools/nb.py merge --out $(NBVAL) notebooks/[0-9]*.ipynb

test-notebooks: nbval-copies
	$(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider $(NBVAL) -q

test-html: book browser
	$(PY) -m pytest tests -m html -q

# the built book in chromium, and a live lab in a real JupyterLab
test-browser: book browser
	$(PY) -m pytest tests -m browser -q

# make test: everything but the browser on both cores (--dist loadfile: a notebook's nbval cells share one
# kernel), then the browser tests in one session on their own (a JupyterLab and a Chromium per worker starved
# each other on 2 cores). Both parts run, and report, even when the first fails.
test: $(STAMP) browser
	$(MAKE) book
	$(MAKE) nbval-copies
	status=0; \
	$(PY) -m pytest tests $(NBVAL) -m "not browser" --nbval-lax --nbval-current-env -q -n 2 --dist loadfile --durations=15 || status=1; \
	$(PY) -m pytest tests -m browser -q --durations=10 || status=1; \
	exit $$status

# The Colab path: the knobs wheel in a fresh virtualenv with only what Colab preinstalls, every chapter run
# from a folder outside the repository (tests/book/test_install.py; part of make test).
test-install: $(STAMP)
	$(PY) -m pytest tests -m install -q

bench: book
	$(PY) tools/bench.py --out $(BUILD)/bench.json
	KNOBS_STATIC=1 $(VENV)/bin/jupyter-book build . -W -n --keep-going -q   # the teacher's guide shows these numbers

# The student edition: every chapter without its solution cells, into $(BUILD)/student/ and $(BUILD)/student.zip.
student: $(STAMP)
	$(PY) tools/student.py --out $(BUILD)/student

# Run each student notebook as a student would: blank, then with the reference solutions filled in.
test-student: $(STAMP)
	$(PY) -m pytest tests -m student -q

# The nbgrader course: source/chNN/chNN.ipynb per chapter, nbgrader_config.py, points.md (tools/nbgrader_course.py).
nbgrader: $(STAMP)
	$(PY) tools/nbgrader_course.py --out $(BUILD)/nbgrader

# The course through the real nbgrader CLI in a temporary folder: generate_assignment, autograde, export.
test-nbgrader: $(STAMP)
	$(PY) -m pytest tests -m nbgrader -q

# Run each notebook as Run All does and store what it must show: the outputs of the cells marked
# # NBVAL_CHECK_OUTPUT in notebooks/expected/NN_topic.json (what nbval compares against), the values of the
# prose's {eval} numbers in the markdown cells (what JupyterLab shows before anything runs). NB=... for one.
NB ?= notebooks/[0-9]*.ipynb
record: $(STAMP)
	$(PY) tools/nb.py record $(NB)

freeze: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed 's/^torch==.*/torch==2.13.0/' > constraints.txt

clean:
	rm -rf $(BUILD)
