// libFuzzer entry point for the HTTP parser; see scripts/fuzz.sh.
