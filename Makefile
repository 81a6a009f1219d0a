# openstack_ops.runbooks — every entry point a person or CI needs. See README.md.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export PATH := $(CURDIR)/$(BIN):$(PATH)
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider

.PHONY: test deps sanity lint unit integration scenarios molecule bench build ee lab-up lab-down lab-status lab-reset demo demo-down clean

## test: install what is needed, then sanity, lint, unit, integration, scenario and molecule tests, in that order
test: deps sanity lint unit integration scenarios molecule

deps:
	@bash tests/bootstrap.sh

sanity: deps
	@echo "== ansible-test sanity"
	@VENV=$(CURDIR)/$(VENV) bash tests/sanity/run.sh

lint: deps
	@echo "== ansible-lint (production profile)"
	@$(BIN)/ansible-lint --offline --profile production

unit: deps
	@echo "== unit tests"
	@VENV=$(CURDIR)/$(VENV) bash tests/unit/run.sh

# podman and debootstrap too: test_awx_ee.py builds the execution environment of `make ee` (once per machine)
integration: deps
	@bash tests/bootstrap.sh demo
	@echo "== integration tests against the service lab"
	@bash tests/no-empty-run.sh $(PYTEST) tests/integration -v --durations=15

## scenarios: the seeds' incidents through nova's own API, on the cloud profile of the lab (tests/lab/cloud.py)
scenarios: deps
	@echo "== incident scenarios on the cloud lab"
	@bash tests/no-empty-run.sh $(PYTEST) tests/scenarios -v --durations=10

## molecule: the conductor_recovery scenarios (extensions/molecule) on the podman controller lab
# Its own service lab too; the containers are named ctl1..ctl3, so it cannot run beside `make demo`.
MOLECULE_STATE := $(CURDIR)/.build/molecule
MOLECULE_LAB := OPS_LAB_DIR=$(CURDIR)/.lab-molecule OPS_LAB_PORT_BASE=29600 MOLECULE_EPHEMERAL_DIRECTORY=$(MOLECULE_STATE) \
	NO_COLOR=1 ANSIBLE_NOCOLOR=1
molecule: deps
	@bash tests/bootstrap.sh demo
	@echo "== molecule scenarios on the podman controller lab"
	@$(MOLECULE_LAB) VENV=$(CURDIR)/$(VENV) bash tests/molecule/run.sh

## demo: build the podman controller lab, break it like seed 003, run recover_conductor.yml, show before/after
# Its own service lab (dir and ports), because the demo stops that lab's host conductors.
DEMO_LAB := OPS_LAB_DIR=$(CURDIR)/.lab-demo OPS_LAB_PORT_BASE=26600
demo: deps
	@bash tests/bootstrap.sh demo
	@$(DEMO_LAB) $(BIN)/python -m tests.controller_lab demo

demo-down:
	@$(DEMO_LAB) $(BIN)/python -m tests.controller_lab down

## bench: side-by-side benchmarks against the peer tools, written to benchmarks/results.json
bench: deps
	@$(BIN)/python -m benchmarks $(BENCH)

build: deps
	@mkdir -p .build/dist
	@$(BIN)/ansible-galaxy collection build --force --output-path .build/dist .

## ee: the AWX/AAP execution environment (extensions/awx/ee/execution-environment.yml) built with ansible-builder and
## podman build --network=none on a local debootstrap base that has bindep.txt's packages (tests/ee/image.py): pip
## reads wheels fetched on the host, apt-get fetches nothing. Prints its tag. EE_REBUILD=1 rebuilds the image.
ee: deps
	@bash tests/bootstrap.sh demo
	@$(BIN)/python -m tests.ee $(if $(EE_REBUILD),--rebuild)

# PROFILE=cloud: the cloud profile (Keystone, Glance, nova-api, scheduler, fake computes) instead of the light lab.
PROFILE ?= light
LAB := OPS_LAB_PROFILE=$(PROFILE) $(BIN)/python -m tests.lab
lab-up: deps
	@$(LAB) up

lab-down:
	@$(LAB) down

lab-status:
	@$(LAB) status

lab-reset:
	@$(BIN)/python -m tests.lab reset

clean: lab-down
	rm -rf .build
