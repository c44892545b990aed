# Two entry points: `make demo` runs the quickstart pipeline on the bundled samples with an embedded
# local Ray; `make test` runs the test suite. Both create the virtual environment they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export RAY_AUTH_MODE ?= disabled

.PHONY: demo test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: on the project's machines 2.13.0 is a local CPU wheel (elsewhere PyPI's build)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,train]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/chardial run pipelines/quickstart.yaml --output out/quickstart --overwrite

test: $(VENV)/.installed
	$(PY) -m pytest -q -ra

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf out .pytest_cache
