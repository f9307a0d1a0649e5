# Benchmarks (bench/README.md). BENCH_ARGS adds options, e.g. BENCH_ARGS="--sections import --keep-db".
bench:
	.venv/bin/python bench/run.py --customers 1000000 $(BENCH_ARGS)

bench-small:
	.venv/bin/python bench/run.py --customers 2000 --output bench/results/small.json $(BENCH_ARGS)

.PHONY: bench bench-small
