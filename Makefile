# Front Door: `make demo` runs the product, `make test` runs the tests.
# Both bootstrap everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
RASA := .venv-rasa/bin/rasa

.PHONY: help venv setup train demo test lint test-fast test-rasa test-python test-nlu bench clean

help:
	@echo "make demo   set up everything and run Front Door on http://localhost:8000/"
	@echo "make test   set up everything and run all tests"
	@echo "make test-fast   the unit tests only (no Rasa, no browser): the edit-test loop"

venv:
	@scripts/ensure_system_packages.sh
	@scripts/setup_venv.sh

setup: venv
	@scripts/setup_rasa_env.sh

train: setup
	@.venv/bin/frontdoor train

demo: train
	@.venv/bin/frontdoor up --sandboxes

test: lint train test-rasa test-python

lint: venv  # ruff and mypy, configured in pyproject.toml
	.venv/bin/ruff check .
	.venv/bin/mypy

test-fast: venv  # no Rasa, no browser, nothing marked slow
	.venv/bin/python -m pytest -q -m "not stack and not e2e and not slow"

test-rasa:
	$(RASA) data validate --domain domain.yml --data data
	$(RASA) test core --stories tests/test_stories.yml --model models --out results/core \
	    --fail-on-prediction-errors

# NLU cross-validation on data/ (English and German; three trainings, about 10
# minutes on 2 cores): Rasa's reports in results/nlu/, then a table per language.
test-nlu: train
	.venv/bin/frontdoor bench nlu --folds 3 --out results/nlu

test-python:
	.venv/bin/python -m pytest -ra

bench: train
	.venv/bin/frontdoor bench chat

clean:
	rm -rf var results .pytest_cache
