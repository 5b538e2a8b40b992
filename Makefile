# Two entry points on a machine with nothing but Python 3.11+ and pip:
#   make preview   - the main job, offline, on a shipped example stack
#   make test      - the whole test suite
#   make policy-pack - dist/policy-pack/, the policy pack as `pulumi policy publish` uploads it
# Each installs uv through pip when it is missing, then the locked environment.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
STACK ?= vision-prod

.PHONY: preview previews test bootstrap bench mutation policy-pack

bootstrap:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

preview: bootstrap
	$(UV) run --frozen aifactory preview $(STACK)

# Every stack in stacks/, offline; fails on the first mandatory violation or bad config.
previews: bootstrap
	@set -e; for file in stacks/Pulumi.*.yaml; do \
		stack=$${file#stacks/Pulumi.}; stack=$${stack%.yaml}; \
		echo "== aifactory preview $$stack"; \
		$(UV) run --frozen aifactory preview $$stack --format markdown --output /dev/null || { echo "preview of $$stack failed"; exit 1; }; \
	done

# The folder `pulumi policy publish` uploads: the pack, its vendored code and pinned requirements.
policy-pack: bootstrap
	$(UV) run --frozen python tools/build_policy_pack.py dist/policy-pack

test: bootstrap
	$(UV) run --frozen pytest -q -n 2

bench: bootstrap
	@for script in bench/*.py; do case $$script in bench/mutation*) continue;; esac; \
		echo "== $$script"; $(UV) run --frozen python $$script; done

# Plants user-visible bugs one at a time and prints the kill ratio (several minutes; not in `make test`).
mutation: bootstrap
	$(UV) run --frozen python bench/mutation.py
