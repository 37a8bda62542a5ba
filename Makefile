# radimpress: every target is listed by `make help`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CHECKOV := $(VENV)/checkov
CHECKOV_VERSION := 3.3.30
REGION ?= us-east-1
STACK ?= radimpress
export AWS_DEFAULT_REGION ?= $(REGION)
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help venv venv-ml demo radimpress test lint unit build live-spec preflight deploy smoke delete bench resolve-jumpstart constraints clean

help: ## List the targets (coloured on a terminal, plain when piped)
	@if [ -t 1 ]; then on=$$'\033[36m'; off=$$'\033[0m'; else on=; off=; fi; \
	grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-18s%s %s\n", on, $$1, off, $$2}'

# Two stamps: the unit tests and the local runtime need no PyTorch; the seq2seq path does.
$(VENV)/.installed: pyproject.toml constraints.txt functions/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[local,dev]'
	@touch $@

$(VENV)/.installed-ml: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[local,ml,dev]'
	@touch $@

# checkov pins its own boto3 (1.35), which would break sam and moto here: it gets a venv of its own.
$(CHECKOV)/.installed:
	@test -x $(CHECKOV)/bin/python || $(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

venv: $(VENV)/.installed ## Create or update .venv with pinned dependencies (no PyTorch)

venv-ml: $(VENV)/.installed-ml ## Add the seq2seq extra (CPU PyTorch, transformers) to .venv

demo: venv ## Run the whole pipeline locally (no AWS account) on generated data
	$(BIN)/radimpress demo

radimpress: venv ## Run the CLI without activating the venv: make radimpress ARGS="score --help"
	$(BIN)/radimpress $(ARGS)

lint: venv $(CHECKOV)/.installed ## ruff (check + format), mypy, cfn-lint, sam validate --lint, checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(REGION) --template template.yaml
	$(CHECKOV)/bin/checkov --config-file .checkov.yaml

test: venv-ml lint ## Create/update the environment, lint, run every test with coverage (floor in pyproject)
	@echo "Functions above ruff's max-complexity (lint refuses any without a noqa: C901):"
	@$(BIN)/ruff check . --select C901 --ignore-noqa --exit-zero --output-format concise
	$(BIN)/pytest --cov --cov-report=term-missing:skip-covered

unit: venv ## Only the fast unit tests (no PyTorch needed)
	$(BIN)/pytest tests/unit

constraints: ## Regenerate constraints.txt from a fresh venv with every extra
	rm -rf .venv-constraints && $(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet -e '.[local,ml,dev]'
	{ echo "# Pins for every package of .[local,ml,dev]; regenerate with: make constraints"; \
	  .venv-constraints/bin/pip freeze --exclude-editable | grep -v '^radimpress'; } > constraints.txt
	rm -rf .venv-constraints

# Each built function gets BUILD_VERSION (git describe of this checkout): the run lineage's code
# version, so the Lambdas never run git (radimpress.lineage.code_version).
build: venv ## sam build (no Docker) into .aws-sam/, with the code version baked into each function
	$(BIN)/sam build --template template.yaml
	@version=$$(git describe --always --dirty 2>/dev/null) && \
	for dir in .aws-sam/build/*/radimpress; do echo "$$version" > "$$dir/BUILD_VERSION"; done || true

live-spec: venv ## Resolve the JumpStart spec live if the shipped one was resolved offline (needs credentials)
	$(BIN)/python -m radimpress_training.jumpstart_resolver --ensure-live --region $(REGION)

preflight: venv ## Read-only AWS checks before and after deploy (credentials, region, quotas, layer, spec, permissions)
	$(BIN)/radimpress preflight --region $(REGION) --stack-name $(STACK) $(ARGS)

deploy: live-spec build ## sam deploy (first time: make deploy ARGS=--guided); never an offline spec
	$(BIN)/sam deploy $(ARGS)

smoke: venv ## Opt-in, costs money: a 20-report fine-tune, then inference, on the deployed stack, followed to the end
	$(BIN)/radimpress smoke --region $(REGION) --stack-name $(STACK) $(ARGS)

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
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/labeler.py
	$(BIN)/python bench/model_scale.py
	$(BIN)/python bench/report_browse.py
	$(BIN)/python bench/serve.py

resolve-jumpstart: venv ## Resolve the JumpStart spec with the SageMaker SDK (needs AWS credentials)
	$(BIN)/python -m radimpress_training.jumpstart_resolver --region $(REGION)

clean: ## Remove build outputs and local runs (keeps .venv)
	rm -rf .aws-sam out .pytest_cache .ruff_cache
