# Two commands, each self-sufficient on a fresh machine:
#   make book   execute every notebook and render the HTML book into _build/html
#   make test   lint and type check; unit tests; every notebook executed once, Colab-like (and the
#               learner's edition too); a strict book build; the PDF; its internal links checked;
#               the rendered pages checked in headless Chromium (screenshots in _build/screenshots)
# and, for authors and instructors:
#   make learner   the learner's edition that Colab opens (learner/: solutions removed, Markdown
#                  Colab renders) and the answer key page (book/answer_key.md), from book/
#   make student   the same learner's edition, also copied to _build/student to hand out
#   make pdf       the whole book as one PDF (after make notebooks), _build/pdf/se-nets-hands-on.pdf
#   make lock      remake requirements-lock.txt after changing requirements.txt
#   make colab-versions   the Colab-like run on Colab's versions (tools/colab_versions.txt)
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
# Every package requirements.txt pulls in, at an exact version; `make lock` remakes it (tools/lock.py).
LOCK   := requirements-lock.txt
# make test executes each notebook once, in a copy of the book here (not under _build, which nbmake skips);
# the strict build then renders those executed copies instead of running them again.
STAGE  := _executed

.PHONY: lock book test lint unit notebooks colab-versions learner-notebooks strict-book pdf links browser learner student clean

# (Re)install when requirements.txt, the lock or pyproject.toml is newer than the last install.
$(STAMP): requirements.txt $(LOCK) pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -c $(LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# After changing requirements.txt: resolve it from scratch in an empty venv and pin everything.
lock:
	python3 tools/lock.py

book: $(STAMP)
	$(JB) build . --keep-going
	@echo "The book is in _build/html/index.html"

test: lint unit notebooks learner-notebooks strict-book pdf links browser

# ruff (pyproject.toml [tool.ruff]) over the library, the tests and the tools; mypy
# ([tool.mypy]) over the library, so a wrong type in a library signature fails here.
lint: $(STAMP)
	$(PY) -m ruff check senet_lib tests tools
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/browser --ignore=tests/pdf

# Colab-like: senet_lib's wheel installed (not editable) into _build/colab-venv, each notebook
# alone in an empty folder, no network; nbmake executes it and the executed copy lands in $(STAGE).
notebooks: $(STAMP)
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp -r book _config.yml _toc.yml _static $(STAGE)/
	sed -i 's/^\(  *execute_notebooks:\).*/\1 "off"/' $(STAGE)/_config.yml
	grep -q 'execute_notebooks: "off"' $(STAGE)/_config.yml
	SENET_STRICT_CHECKS=1 $(PY) tools/run_notebooks.py --book book --into $(STAGE)/book \
	    -- --nbmake-timeout=600 --durations=0

# The learner's edition, as Colab opens it, executed top to bottom the same way (stubs pending).
learner-notebooks: $(STAMP)
	rm -rf _build/learner-executed
	SENET_STRICT_CHECKS=1 $(PY) tools/run_notebooks.py --book learner/book --into _build/learner-executed \
	    -- --nbmake-timeout=600 --durations=0

# The same Colab-like run on the versions Colab ships (tools/colab_versions.txt) instead of the lock:
# its own environment (about 7 GB, PyTorch included, from the package index), made once in
# _build/colab-versions-venv by the Python that runs this (CI: Colab's, 3.12). Not part of `make test`.
colab-versions:
	SENET_STRICT_CHECKS=1 python3 tools/run_notebooks.py --book book --versions tools/colab_versions.txt \
	    --venv _build/colab-versions-venv -- --nbmake-timeout=600 --durations=0

strict-book: $(STAMP)
	test -d $(STAGE)/book || { echo "run 'make notebooks' first"; exit 1; }
	$(JB) build $(STAGE) --path-output . -W -n --keep-going
	@echo "The book is in _build/html/index.html"

# Every internal link and #anchor of the built book resolves (external links are listed, not fetched).
links: $(STAMP)
	test -f _build/html/index.html || { echo "run 'make strict-book' first"; exit 1; }
	$(PY) tools/check_links.py _build/html

# The whole book as one PDF, printed offline from the executed copies by Debian's Chromium
# (tools/make_pdf.py), then read back (tests/pdf: pages, every chapter's title, figures, no raw TeX).
pdf: $(STAMP)
	test -d $(STAGE)/book || { echo "run 'make notebooks' first"; exit 1; }
	$(PY) tools/make_pdf.py --book $(STAGE) --output _build/pdf/se-nets-hands-on.pdf
	$(PY) -m pytest tests/pdf
	@echo "The book as one PDF: _build/pdf/se-nets-hands-on.pdf"

browser: $(STAMP)
	test -f _build/html/index.html || { echo "run 'make strict-book' first"; exit 1; }
	$(PY) -m pytest tests/browser
	@echo "Screenshots of every page are in _build/screenshots/"

learner: $(STAMP)
	$(PY) tools/learner.py

student: learner
	rm -rf _build/student && mkdir -p _build && cp -r learner/book _build/student

clean:
	rm -rf _build $(STAGE)
