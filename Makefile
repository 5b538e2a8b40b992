# Two entry points on a machine with nothing but Python 3.11+ and pip:
#   make preview   - the main job, offline, on a shipped example stack
#   make test      - the whole test suite
# Each installs uv through pip when it is missing, then the locked environment.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
STACK ?= vision-prod

.PHONY: preview validate quote test bootstrap bench

bootstrap:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

preview: bootstrap
	$(UV) run --frozen aifactory validate $(STACK)
	$(UV) run --frozen aifactory quote --gpu H100 --gpus 1024 --limit 10

test: bootstrap
	$(UV) run --frozen pytest -q -n 2

bench: bootstrap
	@for script in bench/*.py; do echo "== $$script"; $(UV) run --frozen python $$script; done
