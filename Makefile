# rust-deadlock: a Rust-for-Linux module that deadlocks on purpose, and the QEMU lab around it.
#
#   make run     set up what is missing, build, boot the guest and play the demo
#   make test    set up what is missing, build, run the zero-warning checks and every test
#   make shell   interactive shell in the guest; make shell CMD='...' runs CMD there instead
#   make         build the module (against the lab kernel, or KDIR=/path/to/your/kernel/build)
#   make check   zero-warning checks: module with CLIPPY=1, rustfmt, cargo clippy and fmt
#   make bench   measure boot, warm run and test-suite times
#   make kernel / setup / clean / clean-cache
#
# The kernel, bindgen and guest logs live in the cache: $RUST_DEADLOCK_CACHE, by default
# $XDG_CACHE_HOME/rust-deadlock or ~/.cache/rust-deadlock (see scripts/env.sh).

# rustup installs cargo and rustc here; keep them reachable when the caller's PATH lacks them.
export PATH := $(PATH):$(HOME)/.cargo/bin

ifeq ($(KDIR),)
KDIR = $(shell scripts/build-kernel.sh --dir)
KERNEL_DEP := kernel
endif

CARGO := cargo --quiet
HOST := --manifest-path scripts/Cargo.toml

.PHONY: all module kernel setup run shell test check bench clean clean-cache host

all: module

setup:
	@scripts/setup-host.sh

kernel: setup
	@scripts/build-kernel.sh >/dev/null

module: $(KERNEL_DEP)
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR) KRUSTFLAGS=-Dwarnings

host: setup
	@$(CARGO) build --release $(HOST) --bin splat --bin lab

run: module host
	@scripts/run-demo.sh

# The guest command line reaches vm.sh through the environment, unexpanded by make, so that its
# quoting and any $(...) survive.
LAB_CMD := $(value CMD)
export LAB_CMD
shell: module
	@if [ -n "$$LAB_CMD" ]; then scripts/vm.sh -- "$$LAB_CMD"; else scripts/vm.sh; fi

# The checks build the module with CLIPPY=1, so the plain build comes after them.
test: host
	@$(MAKE) -s check
	@$(MAKE) -s module
	@scripts/test.sh

check: $(KERNEL_DEP)
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR) CLIPPY=1 KRUSTFLAGS=-Dwarnings
	@rustfmt --check --edition 2021 src/rust_deadlock.rs
	@$(CARGO) fmt $(HOST) --all --check
	@$(CARGO) clippy --quiet $(HOST) --all-targets -- -D warnings

bench: module host
	@scripts/bench.sh

clean:
	@[ ! -d "$(KDIR)" ] || $(MAKE) -s -C $(KDIR) M=$(CURDIR) clean
	@$(CARGO) clean $(HOST)

clean-cache:
	rm -rf "$$(. scripts/env.sh && echo $$CACHE)"
