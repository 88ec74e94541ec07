# meshlab
#
#   make rollout   set up this machine, then provision the lab on it and roll the mesh out across the lab:
#                  ansible-playbook -i inventories/lab playbooks/site.yml (INVENTORY=inventories/local: this
#                  machine alone)
#   make test      set up this machine, then run every gate, in order, stopping at the first failure
#                  (CI runs this through .ci/run)
#
# Set-up (.ci/setup) installs missing apt packages, creates .venv and installs requirements.txt,
# mesh_runtime and samples/* (editable) into it; it runs again only when its inputs change.
# Istio's reference files and conformance cases live in ../shared; set MESHLAB_SHARED to use another place.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
MAKEFLAGS += --no-print-directory

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
MESHLAB_SHARED ?= $(abspath $(ROOT)/../shared)
INVENTORY ?= inventories/lab
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
SETUP_STAMP := $(VENV)/.meshlab-setup
# The repository's Python projects (their own wheels), type-checked with their own mypy settings.
PROJECTS := mesh_runtime $(patsubst %/pyproject.toml,%,$(wildcard samples/*/pyproject.toml))
PYTHON_SOURCES := $(PROJECTS:%=%/src) tests plugins playbooks roles bench .ci
# ansible-test must run from a directory named ansible_collections/<namespace>/<name>.
COLLECTION_COPY := build/ansible_collections/meshlab/mesh
# make collection stages the collection here, with the projects' wheels where the runtime role looks for them.
COLLECTION_STAGE := build/collection
COLLECTION_DIST := build/dist
COLLECTION_WHEELS := $(COLLECTION_STAGE)/roles/runtime/files/wheels
# The collection's version (galaxy.yml): the release make changelog writes the fragments into.
COLLECTION_VERSION := $(shell sed -n 's/^version: *//p' $(ROOT)/galaxy.yml)
CHANGELOG_RELEASE = $(BIN)/antsibull-changelog release --version $(COLLECTION_VERSION) --reload-plugins --refresh
# The files git lists (tracked, or untracked and not ignored), copied as a tree into the directory $(1).
copy_tree = mkdir -p $(1) && git ls-files -z --cached --others --exclude-standard \
	| tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C $(1)
INTEGRATION_COPY := build/integration/ansible_collections/meshlab/mesh
GATES := ruff mypy layering pytest conformance ansible-lint changelog-lint sanity integration molecule

export MESHLAB_SHARED
export PATH := $(BIN):$(PATH)
export LANG := C.UTF-8
export LC_ALL := C.UTF-8
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# The benchmarks (bench/README.md): each runnable alone, `make bench` runs them all and records the report.
BENCHES := proxy mtls latency memory gateway hotpath convergence controlplane ca rollout
# bench-rollout measures site.yml on a mesh of its own under a temporary directory unless told otherwise:
# BENCH_ARGS=--from-nothing runs it on inventories/local (/opt/meshlab, the usual ports) after teardown.yml.
BENCH_DEFAULT_ARGS_rollout := --isolated
BENCH_STAMP := $(VENV)/.meshlab-bench-setup

.PHONY: help setup rollout drills test $(GATES) collection changelog clean bench bench-setup \
	$(BENCHES:%=bench-%)

help:
	@echo "make rollout    set up, then ansible-playbook -i $(INVENTORY) playbooks/site.yml"
	@echo "make drills     the lab's fault drills (after make rollout): playbooks/drills.yml"
	@echo "make test       set up, then every gate in order: $(GATES)"
	@echo "make setup      apt packages, .venv, requirements.txt, mesh_runtime and samples (editable)"
	@echo "make <gate>     one gate: $(GATES)"
	@echo "make collection build the collection artifact into build/dist"
	@echo "make integration the modules' ansible-test integration targets, each against a mesh of its own"
	@echo "make changelog  write changelogs/changelog.yaml and CHANGELOG.md from changelogs/fragments"
	@echo "make bench      every benchmark, then the report: bench/out/report.md and bench/RESULTS.md"
	@echo "make bench-<name> one benchmark ($(BENCHES)), its result in bench/out/<name>.json;"
	@echo "                 BENCH_ARGS=<its options> (python -m bench.<name> --help)"
	@echo "make clean      remove build/"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.txt $(PROJECTS:%=%/pyproject.toml) .ci/setup
	.ci/setup
	touch $@

rollout: setup
	$(BIN)/ansible-playbook -i $(INVENTORY) playbooks/site.yml

drills: setup
	$(BIN)/ansible-playbook -i inventories/lab playbooks/drills.yml

test: setup
	@for gate in $(GATES); do \
		echo "==> make $$gate"; \
		$(MAKE) $$gate || { echo "==> make test: gate '$$gate' failed" >&2; exit 1; }; \
	done
	@echo "==> make test: every gate passed"

ruff: setup
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)

mypy: setup
	for project in $(PROJECTS); do (cd $$project && $(BIN)/mypy src); done
	$(BIN)/mypy --strict --python-version 3.11 bench

# The runtime's import layering (contracts in mesh_runtime/pyproject.toml): xds imports neither plane,
# discovery and proxy never meet but in xds, nothing imports cli, layers run one way, no sibling cycles.
layering: setup
	cd mesh_runtime && $(BIN)/lint-imports --no-cache --no-logo

pytest: setup
	$(BIN)/pytest tests

conformance: setup
	$(BIN)/python tests/conformance/gate.py --meshctl $(BIN)/meshctl

ansible-lint: setup
	$(BIN)/ansible-lint

# The artifact, $(COLLECTION_DIST)/meshlab-mesh-<version>.tar.gz, from a staged copy of the collection (the files git
# lists, tracked or not ignored; galaxy.yml's build_ignore applies) into which the runtime's and Bookinfo's
# wheels are built (roles/runtime/files/wheels, reproducible bytes): installed anywhere, the runtime role
# finds them there (docs/install.md). `ansible-galaxy collection build` of the checkout alone lacks them.
collection: setup
	rm -rf $(COLLECTION_DIST) $(COLLECTION_STAGE)
	$(call copy_tree,$(COLLECTION_STAGE))
	SOURCE_DATE_EPOCH=315532800 $(BIN)/python -m pip wheel -q --no-deps --wheel-dir $(COLLECTION_WHEELS) \
		$(PROJECTS:%=$(COLLECTION_STAGE)/%)
	$(BIN)/ansible-galaxy collection build --output-path $(COLLECTION_DIST) $(COLLECTION_STAGE)

# The changelog (antsibull-changelog, CONTRIBUTING.md): each change adds a fragment to changelogs/fragments;
# make changelog merges them into changelogs/changelog.yaml under galaxy.yml's version and writes CHANGELOG.md.
changelog: setup
	$(CHANGELOG_RELEASE)

# The fragments lint clean, and CHANGELOG.md and changelogs/changelog.yaml are what make changelog writes
# (checked on a copy of the tree, so that nothing here changes).
changelog-lint: setup
	$(BIN)/antsibull-changelog lint
	rm -rf build/changelog
	$(call copy_tree,build/changelog)
	@# antsibull-changelog reads the collection's files through git: the copy is a repository of its own.
	cd build/changelog && git init -q && git add -A && $(CHANGELOG_RELEASE)
	@for file in CHANGELOG.md changelogs/changelog.yaml; do \
		diff -u $$file build/changelog/$$file || { echo "==> $$file is not what the fragments give: run make changelog" >&2; exit 1; }; \
	done

sanity: collection
	$(BIN)/python .ci/seed_get_pip.py
	rm -rf $(COLLECTION_COPY)
	mkdir -p $(COLLECTION_COPY)
	tar -xzf $(COLLECTION_DIST)/meshlab-mesh-*.tar.gz -C $(COLLECTION_COPY)
	@# ansible-test checks the files git lists in the nearest repository (tracked, and untracked unless
	@# ignored): make the copy a repository of its own, with ansible-test's output ignored.
	cd $(COLLECTION_COPY) && printf '/tests/output/\n' > .gitignore && git init -q && git add -A
	cd $(COLLECTION_COPY) && $(BIN)/ansible-test sanity --venv --python 3.11 --color no

# ansible-test's integration targets for the modules (tests/integration/targets), on a copy of the artifact
# with the targets copied in (the artifact leaves tests/ out). Each target starts a small mesh of its own
# with this checkout's mesh-lab (.venv/bin, named in integration_config.yml), under a temporary directory
# on free loopback ports, and stops it; nothing touches /opt/meshlab, /var/lib/meshd or the usual ports.
# --venv: ansible-test makes its own virtualenv for the controller and the managed host (localhost).
integration: collection
	$(BIN)/python .ci/seed_get_pip.py
	rm -rf $(INTEGRATION_COPY)
	mkdir -p $(INTEGRATION_COPY)/tests/integration
	tar -xzf $(COLLECTION_DIST)/meshlab-mesh-*.tar.gz -C $(INTEGRATION_COPY)
	cp -R tests/integration/targets $(INTEGRATION_COPY)/tests/integration/targets
	printf 'meshlab_integration_bin: %s\n' '$(BIN)' > $(INTEGRATION_COPY)/tests/integration/integration_config.yml
	@# As for sanity: ansible-test finds the targets through the nearest repository's files.
	cd $(INTEGRATION_COPY) && printf '/tests/output/\n' > .gitignore && git init -q && git add -A
	cd $(INTEGRATION_COPY) && $(BIN)/ansible-test integration --venv --python 3.11 --color no

# The rollout on this machine, end to end: site.yml twice (changed=0), the health checks' failure cases,
# teardown; then the course walkthrough. They install and remove the mesh under /opt/meshlab, /etc/meshlab,
# /var/lib/meshd and /var/lib/meshlab, on its usual ports. Then the lab: three machines on the bridge
# meshlab0 (198.18.0.0/24), site.yml across them twice, the health checks and fault drills, and their removal
# (the root filesystem cache in /var/cache/meshlab/lab stays for the next run).
molecule: setup
	$(BIN)/molecule test -s default
	$(BIN)/molecule test -s walkthrough
	$(BIN)/molecule test -s lab

bench-setup: $(BENCH_STAMP)

$(BENCH_STAMP): $(SETUP_STAMP) bench/setup
	bench/setup
	touch $@

bench: bench-setup
	@for name in $(BENCHES); do \
		echo "==> make bench-$$name"; \
		$(MAKE) bench-$$name || { echo "==> make bench: bench-$$name failed" >&2; exit 1; }; \
	done
	$(BIN)/python -m bench.report --record

$(BENCHES:%=bench-%): bench-%: bench-setup
	$(BIN)/python -m bench.$* $(or $(BENCH_ARGS),$(BENCH_DEFAULT_ARGS_$*))
	$(BIN)/python -m bench.report

clean:
	rm -rf build
