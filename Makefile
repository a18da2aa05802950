# logway: `make run` starts the main job, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml setup.py src/logway/_speedups.c | cksum | cut -d' ' -f1)

.PHONY: run test test-fast lint typecheck proto proto-check system-packages bench clean install

$(STAMP): pyproject.toml setup.py src/logway/_speedups.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# the main job: the log served with the live microblog (open the printed URL)
run: $(STAMP)
	$(VENV)/bin/logway serve --data ./logway-data --app examples.microblog.app:app

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

PROTOC = $(PY) -m grpc_tools.protoc -Iproto \
	--plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy \
	--plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc
GENERATED = --python_out=$(1) --grpc_python_out=$(1) --mypy_out=$(1) --mypy_grpc_out=$(1)
MICROBLOG = examples/microblog

# regenerate the committed gRPC/protobuf code after editing a .proto file
proto: $(STAMP)
	$(PROTOC) $(call GENERATED,src) proto/logway/v1/log.proto
	$(PROTOC) -I$(MICROBLOG)/proto $(call GENERATED,$(MICROBLOG)) \
		$(MICROBLOG)/proto/microblog/v1/article.proto

# the committed generated code must be what the .proto files generate
proto-check: $(STAMP)
	rm -rf build/proto-check && mkdir -p build/proto-check/src build/proto-check/mb
	$(PROTOC) $(call GENERATED,build/proto-check/src) proto/logway/v1/log.proto >/dev/null
	$(PROTOC) -I$(MICROBLOG)/proto $(call GENERATED,build/proto-check/mb) \
		$(MICROBLOG)/proto/microblog/v1/article.proto >/dev/null
	for f in log_pb2.py log_pb2.pyi log_pb2_grpc.py log_pb2_grpc.pyi; do \
		cmp -s build/proto-check/src/logway/v1/$$f src/logway/v1/$$f || \
		{ echo "src/logway/v1/$$f is stale: run make proto"; exit 1; }; done
	for f in article_pb2.py article_pb2.pyi article_pb2_grpc.py article_pb2_grpc.pyi; do \
		cmp -s build/proto-check/mb/microblog/v1/$$f $(MICROBLOG)/microblog/v1/$$f || \
		{ echo "$(MICROBLOG)/microblog/v1/$$f is stale: run make proto"; exit 1; }; done

# Debian packages the tests use (as root, as in CI, they are installed here): Chromium
# for the end-to-end tests, kcat for the Kafka interoperability tests
SYSTEM_PACKAGES := chromium kcat
system-packages:
	@missing=; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

test: lint typecheck proto-check system-packages
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

bench: $(STAMP)
	bash bench/ensure-redis.sh
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build src/*.egg-info src/logway/*.so
