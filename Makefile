.PHONY: serve test check bench ci

serve:  ## set up and serve the API on embedded defaults
	./scripts/serve

test:   ## set up and run the whole test suite
	./scripts/test

check:  ## ruff, mypy, import-linter
	./scripts/check

bench:  ## latency of the hot endpoints on embedded defaults (see bench/README.md)
	.venv/bin/python bench/http_bench.py

ci:
	bash .ci/run
