"""Benchmarks (`make bench`): NLU quality, REST latency and throughput, memory, training time."""
