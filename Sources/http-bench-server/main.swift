// A minimal HTTPServer for benchmarks; see scripts/bench-http.sh.
