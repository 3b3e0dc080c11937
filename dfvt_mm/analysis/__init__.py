"""Measurements of the package's models: complexity, speed and memory, the benchmark and its
tables, the model zoo and the paper's ablations (not imported by ``dfvt_mm`` itself; the
command lines are under ``tools/analysis/``)."""
