# aicontainers.hardening — developer entry points. `make help` lists them.
#
# Two commands matter on a fresh machine:
#   make demo   set everything up, bring the lab up and show it working
#   make test   set everything up and run every check
# Everything else is a piece of those that you can run alone.

SHELL        := /bin/bash
.SHELLFLAGS  := -euo pipefail -c
PYTHON       ?= python3.11
VENV         := .venv
BIN          := $(CURDIR)/$(VENV)/bin
SCENARIOS    ?= field egress_firewall egress_names ai_container mtls_frontend site
DEMO_SCENARIO ?= field
# The version matrix, by Python: requirements.txt pins the ansible-core each
# gets (3.11: 2.19, the oldest we claim; 3.12: 2.21, the newest we test).
MATRIX       ?= 3.11 3.12
COLLECTIONS  := $(CURDIR)/.cache/collections

# Playbooks and Molecule find this checkout as aicontainers.hardening through
# a symlink, so edits are live without reinstalling the collection.
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# Ansible's own state (temporary files, caches) stays in the checkout too:
# nothing a test writes lands in the user's ~/.ansible.
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible-home
export ANSIBLE_FORCE_COLOR ?= $(if $(CI),0,1)
export PATH := $(BIN):$(PATH)

.PHONY: help demo test host venv images collection lint sanity unit molecule \
        build release release-check changelog-lint bench clean distclean docs

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

demo: host venv images collection  ## bring the lab up, run site.yml and verify.yml, show the report (left running; `make clean` removes it)
	@scripts/demo.sh $(DEMO_SCENARIO)

test: host venv images collection  ## every check: lint, unit, sanity (the version matrix), build, release-check, every Molecule scenario
	@scripts/test-all.sh $(SCENARIOS)

host:  ## Debian packages for the controller and a running Docker Engine
	@scripts/host-setup.sh

venv: $(VENV)/.installed  ## the pinned Python tool chain in .venv

$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

images: host  ## build the lab images when missing or stale
	@scripts/images.sh

collection:
	@mkdir -p $(COLLECTIONS)/ansible_collections/aicontainers
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/aicontainers/hardening

lint: venv collection changelog-lint  ## yamllint, ansible-lint (production profile), ruff, role READMEs against their argument specs, antsibull-docs
	yamllint --strict .
	ruff check .
	$(BIN)/python scripts/role_docs.py --check
	XDG_CACHE_HOME=$(CURDIR)/.cache/xdg ansible-lint --profile production
	@# The documentation markup (O(), RV(), references into other entry points) as Galaxy's docs site reads it.
	cd $(COLLECTIONS)/ansible_collections/aicontainers/hardening && antsibull-docs lint-collection-docs --plugin-docs .

docs: venv  ## write the role READMEs' variables tables from their meta/argument_specs.yml
	$(BIN)/python scripts/role_docs.py

changelog-lint: venv
	antsibull-changelog lint

sanity: venv  ## ansible-test sanity and units (on the installed tarball) for each Python/ansible-core of MATRIX
	@status=0; for python in $(MATRIX); do \
	    for command in sanity units; do \
	        start=$$(date +%s); result=pass; scripts/ansible-test.sh $$python $$command || { result=FAIL; status=1; }; \
	        echo "aich: ansible-test $$command on Python $$python: $$result ($$(( $$(date +%s) - start ))s)"; \
	    done; \
	done; exit $$status

unit: venv  ## pytest from the checkout: the shipped unit tests (tests/unit) and the lab-only ones (tests/lab/unit)
	pytest -q tests/unit tests/lab/unit

build: venv  ## build the collection tarball, install it offline with ansible-core alone, check what an EE builder sees
	@scripts/build-check.sh

release: venv  ## VERSION=x.y.z [SUMMARY=text]: release the changelog, set galaxy.yml's version, build dist/ tarball, run Galaxy's importer on it
	@SUMMARY="$(SUMMARY)" scripts/release.sh "$(VERSION)"

release-check: venv  ## `make release` on a committed copy of the checkout: a bad VERSION changes nothing, the next patch releases
	@scripts/release-check.sh

molecule: host venv images collection  ## Molecule scenarios: SCENARIO=name runs one, default all
	@for s in $(if $(filter command line,$(origin SCENARIO)),$(SCENARIO),$(SCENARIOS)); do \
	    molecule test -s $$s; \
	done

bench: venv  ## benchmarks (not tests): print ratios against baselines measured in the same run
	@scripts/host-setup.sh bench
	$(BIN)/python bench/egress_sets.py
	$(BIN)/python bench/frontend.py

clean:  ## remove the lab's test hosts and network
	@docker ps -aq --filter name='^aich-' | xargs -r docker rm -f -v >/dev/null
	@docker network ls -q --filter name='^aich-' | xargs -r docker network rm >/dev/null
	@rm -rf .cache/collections
	@# Molecule's state for this checkout (else it believes the lab still exists).
	@test ! -x $(BIN)/python || rm -rf $(ANSIBLE_HOME)/tmp/molecule.$$($(BIN)/python -c \
	    'import sys; from molecule.text import checksum; print(checksum(sys.argv[1], 4))' $(notdir $(CURDIR))).*
	@echo "aich: lab removed"

distclean: clean  ## also remove the venv, caches and lab images
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
	-docker image rm aich-standin:latest aich-lab:bookworm aich-base:bookworm aich-base:bullseye aich-base:trixie \
	    aich-bare:bullseye aich-bare:bookworm aich-bare:trixie aich-controller:bookworm aich-services:bookworm
	-docker volume rm aich-apt-cache
