# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test sim lint typecheck unit bench proto clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## run: set up and start the bot (paper mode on the embedded simulator, SQLite ./mexcbot.db)
run: $(VENV)/.installed
	$(BIN)/mexcbot run

## sim: start mexcsim alone on port 18080
sim: $(VENV)/.installed
	$(BIN)/mexcbot sim --port 18080

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -n 2

## test: set up dev dependencies and run lint, type check and the whole test suite
test: lint typecheck unit

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/order_roundtrip.py
	$(BIN)/python benchmarks/stream_decode.py

## proto: regenerate src/mexcproto/*_pb2.py(i) from the .proto files with the pinned compiler
proto: $(VENV)/.installed-dev
	cd src && ../$(BIN)/python -m grpc_tools.protoc -I . --python_out=. --pyi_out=. mexcproto/*.proto

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
