# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv with what the demo needs and run `fvqa demo` offline
#   make test   set up .venv with every extra and run the full test suite
# Both create the virtual environment themselves and only reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch must come first and pinned: on these machines 2.13.0 is a CPU build on local disk,
# while an unpinned torch (pulled in by verl) would download a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= fvqa-demo
PYTEST_ARGS ?=

# The browser tests drive Debian's Chromium and ChromeDriver (Playwright's own download fails here).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH_SPEC)'
	$(BIN)/python -m pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet '$(TORCH_SPEC)'
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/fvqa demo --out $(DEMO_OUT)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(VENV)/.installed-all browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-all
	$(BIN)/ruff check fvqa tests
	$(BIN)/mypy fvqa

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
