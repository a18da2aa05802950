# logway: `make run` starts the main job, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py src/logway/_speedups.c | cksum | cut -d' ' -f1)

.PHONY: run test test-fast lint typecheck proto proto-check bench clean install

$(STAMP): pyproject.toml setup.py src/logway/_speedups.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/logway demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

PROTOC = $(PY) -m grpc_tools.protoc -Iproto \
	--plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy \
	--plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc
PROTOS = proto/logway/v1/log.proto

# regenerate the committed gRPC/protobuf code after editing proto/
proto: $(STAMP)
	$(PROTOC) --python_out=src --grpc_python_out=src --mypy_out=src --mypy_grpc_out=src $(PROTOS)

# the committed generated code must be what proto/ generates
proto-check: $(STAMP)
	rm -rf build/proto-check && mkdir -p build/proto-check
	$(PROTOC) --python_out=build/proto-check --grpc_python_out=build/proto-check \
		--mypy_out=build/proto-check --mypy_grpc_out=build/proto-check $(PROTOS) >/dev/null
	for f in log_pb2.py log_pb2.pyi log_pb2_grpc.py log_pb2_grpc.pyi; do \
		cmp -s build/proto-check/logway/v1/$$f src/logway/v1/$$f || \
		{ echo "src/logway/v1/$$f is stale: run make proto"; exit 1; }; done

test: lint typecheck proto-check
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

bench: $(STAMP)
	bash bench/ensure-redis.sh
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info src/logway/*.so
