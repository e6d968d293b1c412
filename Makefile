# The one place that says how to build, run, test, benchmark and fuzz.
# The Dockerfile runs the same `swift build -c release --product adobe-target-destination`.

SWIFT        ?= swift
PRODUCT      := adobe-target-destination
CONFIG       ?= Config/destination.json
DATA_DIR     ?= ./data
PORT         ?= 8080
FUZZ_SECONDS ?= 60

.PHONY: build release run test bench fuzz clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release --product $(PRODUCT)

run: release
	.build/release/$(PRODUCT) serve --config $(CONFIG) --data-dir $(DATA_DIR) --port $(PORT)

test:
	@scripts/segment-sdk.sh || echo "warning: scripts/segment-sdk.sh failed (offline?); SegmentSDKTests will be skipped (with CI=true they fail)" >&2
	$(SWIFT) build --build-tests
	scripts/with-test-postgres.sh $(SWIFT) test --skip-build

bench:
	scripts/bench.sh

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	rm -rf .build
