# Switchboard: the two commands for a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/switchboard
# Node 24 from the npm registry when the system Node is too old (installed by `make setup`).
export PATH := $(CACHE)/node24/node_modules/.bin:/usr/local/go/bin:$(PATH)
NPX := npx --no-install

.PHONY: help setup test lint typecheck arch unit integration crds check-crds install-crds demo bench controlplane sandbox start clean lint-dockerfile check-image kind-e2e

help:
	@echo "make demo          run Switchboard locally: control plane + provider sandbox + controller (Ctrl-C stops)"
	@echo "make test          lint, type check, unit and integration tests (real kube-apiserver + etcd)"
	@echo "make setup         install Node 24, npm packages, control-plane binaries, promtool (idempotent)"
	@echo "make crds          regenerate crds/ from the zod schemas in controller/api"
	@echo "make install-crds  install the CRDs into the cluster of \$$KUBECONFIG"
	@echo "make bench         run the benchmarks (see bench/README.md)"
	@echo "make check-image   rebuild the image's contents without Docker and run them read-only"
	@echo "make kind-e2e      kind cluster + image + Helm chart + examples (needs Docker and kind)"

setup:
	@bash hack/setup.sh

test: setup lint typecheck arch unit integration check-image
	@node hack/test-summary.ts

lint:
	$(NPX) biome check .

typecheck:
	$(NPX) tsc --noEmit -p tsconfig.json

# The architecture rules of .dependency-cruiser.cjs: no cycles, no reaching into another folder's
# internals, the layering between controller, connectors and webhooks.
arch:
	$(NPX) depcruise --config .dependency-cruiser.cjs --output-type err controller connectors webhooks crds bin test bench hack

# Each run also writes a JSON report to .cache/ (read by hack/test-summary.ts for CI's closing line).
unit:
	$(NPX) vitest run --project unit --reporter=default --reporter=json --outputFile.json=.cache/test-results/unit.json

integration:
	$(NPX) vitest run --project integration --reporter=default --reporter=json --outputFile.json=.cache/test-results/integration.json

# The CRDs, the chart's copy of them and docs/api.md all come from the zod schemas.
crds: setup
	node crds/generate.ts
	bash hack/ship/sync-chart-crds.sh
	node hack/ship/gen-api-docs.ts

check-crds:
	node crds/generate.ts --check
	bash hack/ship/sync-chart-crds.sh --check
	node hack/ship/gen-api-docs.ts --check

lint-dockerfile:
	bash hack/ship/lint-dockerfile.sh

# Rebuilds the image's contents without Docker and runs them read-only as uid 65532 (needs root).
check-image: setup
	bash hack/ship/check-image.sh

# A kind cluster + the image + the chart + the examples against the in-cluster sandbox.
# Needs docker, kind, kubectl and helm: it cannot run on machines without a Docker engine.
kind-e2e:
	bash hack/ship/e2e/kind-e2e.sh

install-crds: setup
	node crds/install.ts

start: setup
	node bin/switchboard.ts controller

demo: setup
	@bash hack/demo.sh

bench: setup
	node bench/run.ts

controlplane: setup
	node test/controlplane/cli.ts

sandbox: setup
	node test/sandbox/cli.ts

clean:
	rm -rf node_modules coverage
