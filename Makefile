# Every target sets up .venv on first use; later runs reuse it (a stamp file tracks pyproject.toml).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := llm-prod-kit
MOCK_LLM_PORT ?= 8000
comma := ,
export MOCK_LLM_PORT

WHEELHOUSE ?= wheelhouse
# A wheelhouse beside the Makefile (`make wheelhouse`, or a copy from a USB stick): setup needs no network.
OFFLINE := $(if $(wildcard $(WHEELHOUSE)/*.whl),--no-index --find-links $(WHEELHOUSE))

.PHONY: setup lab lab-instructor doctor mock serve test test-fast check release grade feedback lint format data report bench bench-capstone wheelhouse clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(OFFLINE) -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "LLM production kit" >/dev/null
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/python scripts/lab.py

lab-instructor: $(STAMP)
	$(BIN)/python scripts/lab.py --instructor

# Not after $(STAMP): a setup that fails is what it diagnoses. It moves into .venv itself when that works.
doctor:
	@$(PYTHON) scripts/doctor.py

mock: $(STAMP)
	$(BIN)/python -m mock_llm --port $(MOCK_LLM_PORT)

# The capstone service (solutions/capstone) on :8080, against the mock (started here unless one runs).
serve: $(STAMP)
	$(BIN)/python -m scripts.serve

# One pytest worker per core, and one more: much of the suite waits in real time (demo budgets,
# servers and kernels starting, the browser), and the extra worker fills those waits.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

check: $(STAMP)
	$(BIN)/python -m grader check $(if $(LAB),--lab $(LAB)) $(if $(NOTEBOOK),--notebook $(NOTEBOOK)) $(foreach c,$(subst $(comma), ,$(ONLY)),--only $(c))

release: $(STAMP)
	$(BIN)/python -m grader release

grade: $(STAMP)
	$(BIN)/python -m grader grade $(if $(COURSE),--course $(COURSE)) $(if $(FORCE),--force) \
		$(foreach s,$(STUDENT),--student $(s)) $(foreach l,$(LAB),--lab $(l))

feedback: $(STAMP)
	$(BIN)/python -m grader feedback $(if $(COURSE),--course $(COURSE))

# Every wheel for Linux, macOS and Windows and each supported Python: PLATFORM=host for this machine only.
wheelhouse: $(STAMP)
	$(BIN)/python scripts/wheelhouse.py --out $(WHEELHOUSE) --extra dev $(if $(PLATFORM),--platform $(PLATFORM))

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

data: $(STAMP)
	$(BIN)/python data/make_data.py

report: $(STAMP)
	$(BIN)/python -m mock_llm.report --write

bench: $(STAMP)
	$(BIN)/python bench/mock_throughput.py
	$(BIN)/python bench/grading_speed.py
	$(BIN)/python bench/class_grading.py

# The capstone against naive lab 01 at 1,000 requests/s for 60 s, with faults, and 1..N processes (haproxy)
bench-capstone: $(STAMP)
	nice -n 10 $(BIN)/python bench/capstone_load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
