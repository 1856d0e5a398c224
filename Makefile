# Two commands, each self-sufficient on a fresh machine:
#   make book   execute every notebook and render the HTML book into _build/html
#   make test   unit tests, every notebook executed with nbmake, and a strict book build
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV   ?= .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STAMP  := $(VENV)/.installed
# make test executes each notebook once, with nbmake, in a copy of the book here (not under _build, which nbmake skips);
# the strict build then renders those executed copies instead of running them again.
STAGE  := _executed

.PHONY: book test unit notebooks strict-book clean

# (Re)install when requirements.txt or pyproject.toml is newer than the last install.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

book: $(STAMP)
	$(JB) build . --keep-going
	@echo "The book is in _build/html/index.html"

test: unit notebooks strict-book

unit: $(STAMP)
	$(PY) -m pytest tests

notebooks: $(STAMP)
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	cp -r book _config.yml _toc.yml $(STAGE)/
	sed -i 's/^\(  *execute_notebooks:\).*/\1 "off"/' $(STAGE)/_config.yml
	grep -q 'execute_notebooks: "off"' $(STAGE)/_config.yml
	SENET_STRICT_CHECKS=1 $(PY) -m pytest --nbmake --overwrite --nbmake-timeout=600 --durations=0 \
	    -p no:cacheprovider $(STAGE)/book

strict-book: $(STAMP)
	test -d $(STAGE)/book || { echo "run 'make notebooks' first"; exit 1; }
	$(JB) build $(STAGE) --path-output . -W -n --keep-going
	@echo "The book is in _build/html/index.html"

clean:
	rm -rf _build
