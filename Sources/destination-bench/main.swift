// Benchmarks of pure code; see scripts/bench.sh.
print("no benchmarks yet")
