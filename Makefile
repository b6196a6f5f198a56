# calsync developer entry points. `make run` and `make test` work on a fresh Debian/Ubuntu
# machine (or one with Docker): they install uv, the virtualenv, PostgreSQL and RabbitMQ as needed.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export DATABASE_URL ?= postgresql://calsync:calsync@127.0.0.1:5432/calsync
export AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/
export CHROMIUM_PATH ?= /usr/bin/chromium
# Tests run in a far-from-UTC local time zone, so a naive (local) datetime anywhere shows up as a failure.
TEST_TZ ?= Pacific/Chatham

# uv is looked up (and installed if missing) once, on first use only.
UV = $(eval UV := $$(shell scripts/ensure-uv.sh))$(if $(UV),$(UV),$(error uv is missing and could not be installed; see the messages above))
RUN = $(UV) run --frozen
CODE_DIRS := services shared calsync_cli tests devtools
LINT_DIRS := $(CODE_DIRS) scripts
VENV_STAMP := .venv/.calsync-synced

.PHONY: help run demo test unit integration service e2e lint fmt bench soak screenshots docs up browser sync clean distclean \
	cluster-up cluster-down cluster-status cluster-node-stop cluster-node-start cluster-test chaos

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml uv.lock
	$(UV) sync --frozen
	@touch $@

sync: $(VENV_STAMP) ## create or update the virtualenv (.venv) from uv.lock

up: ## make sure PostgreSQL and RabbitMQ are running and usable
	@scripts/ensure-infra.sh

browser: ## make sure Debian's chromium and fonts are installed
	@scripts/ensure-browser.sh >/dev/null

run: sync up ## start auth, sync, notifier, the Google emulator and the mail catcher
	$(RUN) python scripts/run-local.py

demo: sync ## play the story against what `make run` started (python -m devtools.demo), checking every step
	$(RUN) python -m devtools.demo $(DEMO_ARGS)

test: up browser sync ## run every test tier (unit, integration, service, e2e)
	TZ=$(TEST_TZ) $(RUN) pytest $(PYTEST_ARGS)

unit: sync ## unit tests only (no infrastructure)
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

integration: up sync ## adapters against PostgreSQL, RabbitMQ and the emulator
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

service: up sync ## one service in-process at a time
	$(RUN) pytest tests/service $(PYTEST_ARGS)

e2e: up browser sync ## chains across services, and the settings page in a real browser
	$(RUN) pytest tests/e2e tests/browser $(PYTEST_ARGS)

lint: sync ## import contracts and cycles, ruff check, ruff format --check, mypy (strict on services and shared)
	$(RUN) lint-imports
	PYTHONPATH=. $(RUN) python scripts/check_import_cycles.py
	$(RUN) ruff check $(LINT_DIRS)
	$(RUN) ruff format --check $(LINT_DIRS)
	$(RUN) mypy $(CODE_DIRS)

fmt: sync ## fix imports and format the code
	$(RUN) ruff check --fix --select I $(LINT_DIRS)
	$(RUN) ruff format $(LINT_DIRS)

bench: up sync ## run the benchmarks (devtools/bench); one alone: make bench BENCH_ARGS="--only sync_outbound"
	$(RUN) python -m devtools.bench $(BENCH_ARGS)

soak: up sync ## sync under a steady load for 10 minutes (SOAK_SECONDS): memory, connections, queues sampled
	$(RUN) python -m devtools.soak

screenshots: up browser sync ## render the user-facing pages and emails to PNG
	$(RUN) python -m devtools.screenshots

docs: sync ## regenerate docs/messages.md and docs/asyncapi.yaml from the message contract
	$(RUN) python -m scripts.gen_messages_doc
	$(RUN) python -m scripts.gen_asyncapi

cluster-up: ## start a local three-node RabbitMQ cluster (AMQP 127.0.0.1:5681-5683, data in .cluster/)
	@scripts/cluster.sh up

cluster-down: ## stop the local cluster and delete its data
	@scripts/cluster.sh down

cluster-status: ## each node of the local cluster and the members it sees
	@scripts/cluster.sh status

cluster-node-stop: ## stop one node of the local cluster: make cluster-node-stop N=2 (KILL=1: SIGKILL)
	@scripts/cluster.sh $(if $(KILL),kill,stop) $(N)

cluster-node-start: ## start that node again (it rejoins): make cluster-node-start N=2
	@scripts/cluster.sh start $(N)

cluster-test: up sync ## bring the local cluster up, run tests/integration/cluster (failover), bring it down
	@scripts/cluster.sh up || { scripts/cluster.sh down; exit 1; }
	@rc=0; CLUSTER_AMQP_URL="$$(scripts/cluster.sh url)" TZ=$(TEST_TZ) $(RUN) pytest tests/integration/cluster \
		$(PYTEST_ARGS) || rc=$$?; scripts/cluster.sh down; exit $$rc

chaos: sync ## fault injection: 10,000 events for 200 users while services, broker nodes and PostgreSQL die (devtools/chaos); report in bench/results/
	$(RUN) python -m devtools.chaos --results bench/results

clean: ## remove caches and test artefacts (keeps .venv)
	find . -path ./.venv -prune -o -path ./.git -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov build dist *.egg-info artifacts

distclean: clean ## also remove the virtualenv and the bootstrapped uv
	rm -rf .venv .tools
