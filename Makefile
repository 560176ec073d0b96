# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench clean sdk-venv

setup: $(STAMP)

$(STAMP): constraints.txt requirements-train.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -r requirements-train.txt -r requirements-dev.txt
	$(PIP) install -q --no-deps -c constraints.txt gluoncv
	$(PIP) install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(PY) -m emulator.demo

# GPU tests need a GPU host: they run in `make gpu-test`, not here.
test: setup
	$(PY) -m pytest -m "not gpu" --durations=25 $(PYTEST_ARGS)

# The SageMaker Python SDKs in their own venvs: v2 (.venv-sdk, constraints-sdk.txt), v3 (.venv-sdk3,
# constraints-sdk3.txt) and the notebooks' kernel (.venv-notebooks); the tests build them on demand.
sdk-venv: setup
	$(PY) -m tests.sdk_venv

test-fast: setup
	$(PY) -m pytest -m "not slow and not docker and not gpu" $(PYTEST_ARGS)

bench: setup
	$(PY) bench/ic_throughput.py
	$(PY) bench/ic_warm_start.py
	$(PY) bench/transfer.py
	$(PY) bench/pipe_input.py
	$(PY) bench/ss_throughput.py
	$(PY) bench/od_throughput.py
	$(PY) bench/serving.py
	$(PY) bench/hosting.py
	$(PY) bench/tuning.py
	$(PY) bench/console.py

clean:
	rm -rf $(VENV) .venv-sdk .venv-sdk3 .venv-notebooks .pytest_cache build *.egg-info

# ---- Docker images (docs/docker.md) ----------------------------------------------------------
# CPU tags smlocal/<algorithm>:latest, GPU tags smlocal/<algorithm>:gpu; one Dockerfile each, the
# algorithm is a build arg used only in the last instruction, so the tags share every layer.
# The algorithms' names come from their specs, through the manifest generated from them.
ALGORITHMS := $(shell python3 -c 'import json; print(" ".join(json.load(open("emulator/algorithms.json"))))')
IMAGE_REPO ?= smlocal
CPU_TAG ?= latest
GPU_TAG ?= gpu
LOCAL_BASE := localbase:bookworm
# The offline base (make base-image) when it exists, else the public default of Dockerfile.cpu.
BASE_IMAGE ?= $(shell docker image inspect $(LOCAL_BASE) >/dev/null 2>&1 && echo $(LOCAL_BASE) || echo debian:bookworm-slim)
GPU_BASE_IMAGE ?= nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu22.04
DOCKER_BUILD := docker build --network host
PUSH_TAG ?= $(CPU_TAG)
# PRETRAINED=1: each image ships its algorithm's pretrained weights at /opt/ml-models, as the
# built-ins do: whatever MODEL_STORE/<algorithm>/ holds (fill it first: smlocal pretrained pull --all).
PRETRAINED ?= 0
MODEL_STORE ?= $(or $(SMLOCAL_MODEL_STORE),$(HOME)/.smlocal/models)
ifeq ($(PRETRAINED),1)
STORE_ARG = --build-arg PRETRAINED_STORE=$(IMAGE_REPO)/pretrained-store:$$algo
# One algorithm's part of the store as an image (FROM scratch, the files at its root) that the
# Dockerfiles copy from; a tar of MODEL_STORE/$$algo is its whole build context.
define STORE_IMAGE
test -d "$(MODEL_STORE)/$$algo" || { echo "no $$algo weights in $(MODEL_STORE): run smlocal pretrained pull $$algo (or import), or set MODEL_STORE"; exit 1; }; \
ctx=$$(mktemp -d); printf 'FROM scratch\nCOPY . /\n' > $$ctx/Dockerfile; printf 'Dockerfile\n.dockerignore\n' > $$ctx/.dockerignore; \
tar -cf - -C $$ctx Dockerfile .dockerignore -C "$(MODEL_STORE)" $$algo | docker build -q -t $(IMAGE_REPO)/pretrained-store:$$algo - >/dev/null; \
status=$$?; rm -rf $$ctx; [ $$status = 0 ] || exit 1;
endef
endif

.PHONY: base-image extra-ca build build-gpu push gpu-test

# Without a container registry: debootstrap + docker import (no-op when the image exists).
base-image:
	docker/build-base-image.sh $(LOCAL_BASE)

# Trust the build host's extra CAs (TLS-intercepting proxies) inside the build; never committed.
extra-ca:
	@if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then \
		cp /usr/local/share/ca-certificates/*.crt docker/extra-ca/; fi

build: extra-ca
	@for algo in $(ALGORITHMS); do \
		$(STORE_IMAGE) \
		echo "building $(IMAGE_REPO)/$$algo:$(CPU_TAG) from $(BASE_IMAGE)"; \
		$(DOCKER_BUILD) -f Dockerfile.cpu --build-arg BASE_IMAGE=$(BASE_IMAGE) $(STORE_ARG) \
			--build-arg ALGORITHM=$$algo -t $(IMAGE_REPO)/$$algo:$(CPU_TAG) . || exit 1; \
	done

build-gpu: extra-ca
	@for algo in $(ALGORITHMS); do \
		$(STORE_IMAGE) \
		$(DOCKER_BUILD) -f Dockerfile.gpu --build-arg BASE_IMAGE=$(GPU_BASE_IMAGE) $(STORE_ARG) \
			--build-arg ALGORITHM=$$algo -t $(IMAGE_REPO)/$$algo:$(GPU_TAG) . || exit 1; \
	done

# make push ACCOUNT=123456789012 REGION=eu-west-1 [PUSH_TAG=latest|gpu] [DRY_RUN=1]
push: setup
	$(PY) -m emulator.ecr --account "$(ACCOUNT)" --region "$(REGION)" \
		$(if $(filter 1,$(DRY_RUN)),--dry-run) \
		$(foreach algo,$(ALGORITHMS),$(IMAGE_REPO)/$(algo):$(PUSH_TAG))

gpu-test: setup build-gpu
	SMLOCAL_GPU_IMAGE=$(IMAGE_REPO)/image-classification:$(GPU_TAG) $(PY) -m pytest -m gpu $(PYTEST_ARGS)
