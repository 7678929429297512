# One command each: `make demo` runs the sandbox and the bot; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

IAC := .venv-iac
IAC_STAMP := $(IAC)/.installed-$(shell cksum < deploy/tools/checkov-requirements.txt | cut -d' ' -f1)
STACK := deploy/deploybot.cfn.yml

.PHONY: install demo test lint typecheck unit fuzz browser-deps bench soak clean iac

$(STAMP): pyproject.toml constraints.txt
	@echo "==> Installing deploybot's pinned set into $(VENV) (the first time takes a few minutes)"
	$(PYTHON) -m venv $(VENV)
	@# One line per package (Collecting …) is the progress a first install shows; pip's own status is kept.
	{ $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -c constraints.txt -e '.[dev]'; \
		echo $$? > $(VENV)/.pip-status; } | grep --line-buffered -E '^(Collecting|ERROR)' | cut -c1-100; \
		exit $$(cat $(VENV)/.pip-status)
	@echo "==> Installed"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# checkov pins an older boto3 than deploybot, so it lives in a tool environment of its own.
$(IAC_STAMP): deploy/tools/checkov-requirements.txt
	@echo "==> Installing checkov into $(IAC) (once)"
	$(PYTHON) -m venv $(IAC)
	$(IAC)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/tools/checkov-requirements.txt
	rm -f $(IAC)/.installed-*
	touch $@

# The CloudFormation stack: cfn-lint (errors and warnings), then checkov in both transports.
iac: install $(IAC_STAMP)
	$(BIN)/cfn-lint $(STACK)
	deploy/tools/scan.sh $(IAC)/bin/checkov $(STACK)

# make demo SPEED=60 SLACK_PORT=8000 AWS_PORT=8001 (defaults: 30x, any free ports)
SPEED ?= 30
SLACK_PORT ?= 0
AWS_PORT ?= 0
demo: install
	$(BIN)/deploybot demo --speed $(SPEED) --slack-port $(SLACK_PORT) --aws-port $(AWS_PORT)

browser-deps:
	@scripts/install-chromium.sh

lint: install
	$(BIN)/ruff check bot handlers sandbox tests bench soak
	$(BIN)/hadolint Dockerfile

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: install browser-deps lint typecheck iac unit

# The property tests of everything typed after /deploy, with 10,000 examples each (make test runs 300).
fuzz: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/unit/test_input_properties.py

bench: install
	$(BIN)/python -m bench

# The fault campaign (soak/): SEEDS seeds of REQUESTS stories each, from FIRST; a failing seed is replayed
# with make soak FIRST=<seed> SEEDS=1. make test runs one short seed (tests/soak/).
SEEDS ?= 5
FIRST ?= 1
REQUESTS ?= 150
soak: install
	$(BIN)/python -m soak --seeds $(SEEDS) --first $(FIRST) --requests $(REQUESTS)

clean:
	rm -rf $(VENV) $(IAC) .pytest_cache .mypy_cache .ruff_cache
