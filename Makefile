# Opvoedmaatje. `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION := $(shell cat .python-version)
BASE_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/$(PYTHON_VERSION)/bin/python) $(shell command -v python3.10 2>/dev/null))
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
INSTALLED := $(VENV)/.installed
# pip-audit in a venv of its own (its packaging version conflicts with Rasa's): make audit, tests
AUDIT_VENV := $(VENV)/pip-audit
PIP_AUDIT_VERSION := 2.10.1
# pip for every venv this Makefile builds (and deploy/Dockerfile): 26.1.2 or later fixes CVE-2025-8869,
# CVE-2026-1703, CVE-2026-6357 and CVE-2026-8643. setuptools and wheel come from constraints.txt.
PIP_VERSION := 26.3
LANGUAGE := .spacy/pipeline
MODEL := models/opvoedmaatje.tar.gz
# nl_core_news_sm is not on PyPI: installed from its release where that is reachable.
NL_CORE_URL := https://github.com/explosion/spacy-models/releases/download/nl_core_news_sm-3.4.0/nl_core_news_sm-3.4.0-py3-none-any.whl
TRAINING_INPUTS := config.yml domain.yml $(LANGUAGE) $(shell find data -name '*.yml' 2>/dev/null)

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0
# config.yml reads OPVOED_SPACY_MODEL; endpoints.yml reads the settings of bot/settings.py (README
# "Configuration"). Processes that start servers themselves (pytest, bot.serve, tools.benchmark)
# get only LANG_ENV: they derive ports and URLs per server from bot.settings.
LANG_ENV = env OPVOED_SPACY_MODEL=$$(cat $(LANGUAGE))
RASA_ENV = $(LANG_ENV) $$($(PY) -m bot.settings env)

.PHONY: help install language train run test validate test-stories catalogue-check clean eval test-scale purge

help:
	@echo "make run    install what is missing, train if needed, start the assistant"
	@echo "make test   install what is missing, train if needed, run every test"
	@echo "make catalogue-check CATALOGUE=path   validate a support catalogue"
	@echo "make demo-data   a month of insight (/console/inzicht) from scripted conversations"

$(PY):
	@test -n "$(BASE_PYTHON)" || { echo "Python $(PYTHON_VERSION) not found (pyenv install $(PYTHON_VERSION))"; exit 1; }
	$(BASE_PYTHON) -m venv $(VENV)

$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt | $(PY)
	$(PY) -m pip install --quiet "pip==$(PIP_VERSION)"
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

# Front-end assets (socket.io-client for the chat, axe-core for the accessibility tests), served locally.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "Install Chromium (package chromium) for the browser tests."; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

install: $(INSTALLED) $(NODE_STAMP)

# The Dutch language layer (bot/domain/language.py): the name of the pipeline to train with.
$(LANGUAGE): $(INSTALLED) bot/domain/language.py
	@$(PY) -c "import nl_core_news_sm" 2>/dev/null || test -e $(VENV)/.nl-core-tried || { \
	  $(PY) -m pip install --quiet --no-deps --timeout 10 --retries 0 "nl_core_news_sm @ $(NL_CORE_URL)" \
	    || echo "nl_core_news_sm 3.4.0 could not be installed here: using the project's own Dutch pipeline."; \
	  touch $(VENV)/.nl-core-tried; }
	@mkdir -p $(dir $@)
	$(PY) -m bot.domain.language resolve > $@.tmp && mv $@.tmp $@
	@echo "Dutch pipeline: $$(cat $@)"

language: $(LANGUAGE)

$(MODEL): $(TRAINING_INPUTS) | $(INSTALLED)
	@echo "Training (data or config changed)..."
	$(RASA_ENV) $(RASA) train --fixed-model-name opvoedmaatje --out models --quiet
	@touch $@

train: $(MODEL)

run: $(MODEL) $(NODE_STAMP)
	$(LANG_ENV) $(PY) -m bot.serve --model $(MODEL)

validate: $(LANGUAGE)
	$(RASA_ENV) $(RASA) data validate --fail-on-warnings

test-stories: $(MODEL)
	$(RASA_ENV) $(RASA) test core --model $(MODEL) --stories tests/test_stories.yml \
	  --fail-on-prediction-errors --out reports/test-stories

test: validate $(MODEL) $(NODE_STAMP) $(CHROMIUM) $(AUDIT_VENV)/bin/pip-audit
	$(LANG_ENV) $(PY) -m pytest
	$(MAKE) --no-print-directory test-stories

# Issue 9: two Rasa servers on PostgreSQL and Redis, 200 conversations x 10 turns, and the fault tests
# (also part of `make test` wherever PostgreSQL and Redis are reachable).
test-scale: $(MODEL)
	$(LANG_ENV) $(PY) -m pytest -m scale tests/e2e/test_faults.py tests/e2e/test_scale.py

# Issue 14: delete conversations and cases past the retention period (make run does this every hour;
# for cron or a Kubernetes CronJob: python -m bot.services.purge). Logs counts only.
purge: $(INSTALLED)
	$(PY) -m bot.services.purge

# Issue 18: a realistic month of insight for Voorbeeldstad, made by scripted parents talking to the
# real assistant (started for the run), into the case store's database (CASE_STORE_URL).
.PHONY: demo-data
demo-data: $(MODEL)
	$(LANG_ENV) $(PY) -m tools.demo_data

catalogue-check: $(INSTALLED)
	@test -n "$(CATALOGUE)" || { echo "usage: make catalogue-check CATALOGUE=path/to/catalogue.yml"; exit 2; }
	$(PY) -m bot.domain.catalogue.check "$(CATALOGUE)"

clean:
	rm -rf models .spacy var reports/test-stories

# Issue 3/8: NLU quality on the held-out set, this pipeline against Rasa's default.
eval: $(LANGUAGE)
	$(RASA_ENV) $(PY) -m tools.evaluation --out reports

# Issue 13: the crisis detector's thresholds on the development sets (never the blind set): what
# each pair on a grid would give, from one pass through the trained model; the pair goes into config.yml.
.PHONY: thresholds
thresholds: $(MODEL)
	$(LANG_ENV) $(PY) -m tools.evaluation.thresholds

# Issue 8: latency, throughput, memory, start-up and training against Rasa's default pipeline
# (reports/bench-DATE.md). Quick check: $(RASA_ENV) $(PY) -m tools.benchmark --quick
.PHONY: bench
bench: $(MODEL)
	$(LANG_ENV) $(PY) -m tools.benchmark

# Issue 15: `make audit DB=path` runs pip-audit over the pins of constraints.txt against a
# vulnerability database file (OSV records: osv.dev's PyPI/all.zip, a checkout of
# pypa/advisory-database, or a .json file), offline: pip-audit asks a local server that answers
# from the file. Without DB: the pins with their release dates (from PyPI when reachable;
# OFFLINE=1, or no network: the pins without dates, said so). pip-audit lives in a venv of its own
# (its packaging version conflicts with Rasa's).

$(AUDIT_VENV)/bin/pip-audit: | $(PY)
	$(BASE_PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip install --quiet "pip==$(PIP_VERSION)"
	$(AUDIT_VENV)/bin/python -m pip install --quiet "pip-audit==$(PIP_AUDIT_VERSION)"

.PHONY: audit
audit: | $(PY)
	@if [ -n "$(DB)" ]; then \
	  $(MAKE) --no-print-directory $(AUDIT_VENV)/bin/pip-audit && \
	  $(PY) deploy/audit.py run --db "$(DB)" --pip-audit $(AUDIT_VENV)/bin/pip-audit constraints.txt; \
	else \
	  $(PY) deploy/audit.py pins $(if $(OFFLINE),--offline) constraints.txt; \
	fi
