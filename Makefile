# radimpress: every target is listed by `make help`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
REGION ?= us-east-1
STACK ?= radimpress
export AWS_DEFAULT_REGION ?= $(REGION)
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help venv demo test lint unit build deploy delete bench resolve-jumpstart clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt functions/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[local,ml,dev]'
	@touch $@

venv: $(VENV)/.installed ## Create or update .venv with pinned dependencies

demo: venv ## Run the whole pipeline locally (no AWS account) on generated data
	$(BIN)/radimpress demo

lint: venv ## ruff, cfn-lint and sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(REGION) --template template.yaml

test: venv lint ## Create/update the environment, lint, and run every test
	$(BIN)/pytest

unit: venv ## Only the fast unit tests
	$(BIN)/pytest tests/unit

build: venv ## sam build (no Docker) into .aws-sam/
	$(BIN)/sam build --template template.yaml

deploy: build ## sam deploy (first time: make deploy ARGS=--guided)
	$(BIN)/sam deploy $(ARGS)

delete: venv ## Delete the deployed stack
	$(BIN)/sam delete --stack-name $(STACK) $(ARGS)

bench: venv ## Run the benchmarks; figures land in bench/results/*.json
	$(BIN)/python bench/scoring.py
	$(BIN)/python bench/local_e2e.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/results_layer.py
	$(BIN)/python bench/emulator_overhead.py
	$(BIN)/python bench/ingest_memory.py
	$(BIN)/python bench/lambda_package_size.py

resolve-jumpstart: venv ## Resolve the JumpStart spec with the SageMaker SDK (needs AWS credentials)
	$(BIN)/python -m radimpress_training.jumpstart_resolver --region $(REGION)

clean: ## Remove build outputs and local runs (keeps .venv)
	rm -rf .aws-sam out .pytest_cache .ruff_cache
