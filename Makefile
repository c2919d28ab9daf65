# KOSMO Web login helpdesk bot. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
RASA    := $(VENV)/bin/rasa
STAMP   := $(VENV)/.installed

# Python 3.10 (Rasa 3.6 supports < 3.11): $PYTHON if given, else pyenv's 3.10, else python3.10.
PYTHON ?= $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | sort -V -r) $$(command -v python3.10 2>/dev/null); do \
            "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo "$$p"; break; }; done)

# The model is named by a hash of everything that goes into training, so
# `make run` / `make test` train only when data, config or the code training
# runs changed. TRAIN_CODE is exactly the bot/ modules that importing config.yml's
# components imports (tests/test_train_inputs.py checks it); what they use only
# once a model is loaded (bot/nlu/numpy_predict.py, bot/rule_matching.py ...) is
# imported then, and changing it does not retrain.
TRAIN_CODE   := bot/__init__.py bot/domain/__init__.py bot/domain/helpdesk_hours.py \
                bot/domain/kana_romaji.py bot/domain/kana_terms.py bot/domain/language.py \
                bot/domain/normalize.py bot/domain/portal_contract.py bot/domain/societies.py \
                bot/domain/society_facts.py bot/domain/topics.py bot/indexed_rule_policy.py bot/nlu/__init__.py \
                bot/nlu/direct_count_vectors.py bot/nlu/faq_selector.py bot/nlu/fast_diet.py \
                bot/nlu/japanese_tokenizer.py bot/nlu/language_detector.py \
                bot/nlu/second_opinion.py bot/nlu/society_resolver.py bot/nlu/structured_input.py \
                bot/nlu/text_normalizer.py bot/repeated_topic_policy.py bot/settings/__init__.py \
                bot/settings/groups.py bot/settings/parsers.py bot/settings/variables.py \
                bot/shared_secret.py
TRAIN_INPUTS := config.yml domain.yml $(sort $(wildcard data/nlu/*.yml data/rules/*.yml data/stories/*.yml)) $(TRAIN_CODE)
MODEL_HASH   := $(shell cat $(TRAIN_INPUTS) 2>/dev/null | sha256sum | cut -c1-12)
MODEL        := models/kosmo-$(MODEL_HASH).tar.gz

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# Rasa's training checks look for its ResponseSelector and RulePolicy classes by
# identity and so miss our subclasses (bot/nlu/faq_selector.py,
# bot/indexed_rule_policy.py); those two warnings are wrong here.
export PYTHONWARNINGS := ignore:You have defined training data with examples for training a response selector,ignore:'RulePolicy' is not included in the model's policy configuration

.PHONY: help setup venv env train model seed run test test-fast bench lint fmt validate clean browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then echo "error: Python 3.10 not found (pyenv install 3.10, or make PYTHON=/path/to/python3.10)" >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PYTHON)"
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(PY) -m pip check
	@touch $@

venv: $(STAMP) ## create the virtualenv and install packages (Rasa's pins as constraints)

# A new .env gets all of .env.example; an existing one gets the variables added since.
# It holds secrets: readable by its owner only (0600), also when it existed before.
.env: .env.example
	@umask 077; fresh=1; [ -s .env ] && fresh=0; \
	sed -E "s/=change-me$$/=__RANDOM__/" .env.example | while IFS= read -r line; do \
	  case "$$line" in \
	    [A-Za-z_]*=*) grep -q "^$${line%%=*}=" .env 2>/dev/null && continue ;; \
	    *) [ $$fresh = 1 ] || continue ;; \
	  esac; \
	  echo "$${line/__RANDOM__/$$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}"; \
	  [ $$fresh = 1 ] || echo "Added $${line%%=*} to .env" >&2; \
	done >> .env; \
	if [ $$fresh = 1 ]; then echo "Wrote .env with fresh random tokens"; fi; touch .env; chmod 600 .env

env: .env

$(MODEL): $(STAMP) $(TRAIN_INPUTS)
	@mkdir -p models
	$(RASA) train --fixed-model-name kosmo-$(MODEL_HASH) --out models

model: $(MODEL) ## train a model if none exists for the current data and config

train: $(STAMP) ## train a model (always)
	$(RASA) train --fixed-model-name kosmo-$(MODEL_HASH) --out models --force

seed: $(STAMP) .env ## create/upgrade the portal database and its demo members
	@set -a; source .env; set +a; \
	if [ -f dev/portal/__main__.py ]; then $(PY) -m dev.portal db-upgrade && $(PY) -m dev.portal seed; fi

run: $(STAMP) .env $(MODEL) seed ## set up everything and start portal, actions and Rasa (Ctrl-C stops)
	$(PY) -m dev.stack --model $(MODEL)

validate: $(STAMP) ## check training data and domain (tests/test_data_validation.py also checks every warning)
	$(RASA) data validate

browser: ## Chromium and a Japanese font for the browser test (Debian packages, only when missing)
	@if [ ! -x /usr/bin/chromium ] || [ ! -e /usr/share/fonts/opentype/ipafont-gothic ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-ipafont-gothic; fi

test: $(STAMP) .env $(MODEL) validate browser ## set up and run every test
	KOSMO_MODEL=$(MODEL) $(PY) -m pytest -ra

test-fast: $(STAMP) ## tests that need no trained model
	$(PY) -m pytest -ra -m "not model and not e2e"

bench: $(STAMP) .env $(MODEL) ## benchmark: NLU F1, latency, throughput, memory, training time
	KOSMO_MODEL=$(MODEL) $(PY) -m bench

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check bot actions dev tests bench
	$(VENV)/bin/mypy bot actions dev

fmt: $(STAMP) ## format the code
	$(VENV)/bin/ruff format bot actions dev tests bench
	$(VENV)/bin/ruff check --fix bot actions dev tests bench

clean: ## remove trained models, results and local databases (keeps the venv)
	rm -rf models/*.tar.gz results var .pytest_cache
