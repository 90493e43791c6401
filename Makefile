# The two commands of the README. Both work on a fresh clone: bootstrap installs the Python
# side, `pmsync stack up` installs and starts Kafka and Postgres when they are missing.
PMSYNC := .venv/bin/pmsync

.PHONY: bootstrap demo demo-down test bench

bootstrap:
	@scripts/bootstrap.sh

## Bring the stack up and run the whole pipeline on the bundled PMS simulator.
demo: bootstrap
	$(PMSYNC) demo

demo-down: bootstrap
	$(PMSYNC) demo --down

## Every tier (README "Tests"): the suite against a real Kafka and Postgres (on the compiled
## per-record modules), the unit tests again on their plain Python, every shipped config's golden
## sample, the fault suite on a private stack, then the deploy tier under podman.
test: bootstrap
	$(PMSYNC) stack up
	.venv/bin/pytest -m "not faults"
	PMSYNC_COMPILED=0 .venv/bin/pytest -q tests/unit
	$(PMSYNC) config test pms_configs
	$(MAKE) --no-print-directory test-faults
	$(MAKE) --no-print-directory test-deploy

## The fault suite alone (tests/faults/README.md); PMSYNC_FAULTS_SCALE=long for the long run.
.PHONY: test-faults
test-faults: bootstrap
	$(PMSYNC) stack up
	.venv/bin/pytest -m faults tests/faults

bench: bootstrap
	$(PMSYNC) stack up
	.venv/bin/python bench/mapping.py
	.venv/bin/python bench/loader.py
	.venv/bin/python bench/pipeline.py
	.venv/bin/python bench/api.py

## The deploy tier (issue #15, docs/deploy.md): installs podman & co., Helm and the chart checks
## and builds the images when missing, then runs the image, compose, kube play and chart tests.
.PHONY: test-deploy
test-deploy: bootstrap
	scripts/podman-setup.sh
	.venv/bin/pytest -m deploy tests/deploy
