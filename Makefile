# rust-deadlock: a Rust-for-Linux module that deadlocks on purpose, and the QEMU lab around it.
#
#   make run     set up what is missing, build, boot the guest and play the demo
#                (SCENARIO= picks the deadlock, one of the README's scenario table; default abba;
#                PANIC=1 makes the kernel panic at it: hung_task_panic, softlockup_panic or
#                hardlockup_panic, the sysctl of the detector that finds it)
#   make test    set up what is missing, build, run the zero-warning checks and every test, on
#                every kernel the lab supports (KERNEL=... narrows it to one; TESTS=host or
#                TESTS=lab to one part, SHARD=M/N to the M-th of N parts of the lab's tests, as
#                CI's jobs do: .github/workflows/lab.yml)
#   make test-plan   the steps make test would run, with the same variables; runs nothing
#   make shell   interactive shell in the guest; make shell CMD='...' runs CMD there instead
#   make         build the module (against the lab kernel, or KDIR=/path/to/your/kernel/build)
#   make check   zero-warning checks: module with CLIPPY=1, rustfmt, cargo clippy and fmt,
#                actionlint on .github/workflows/
#   make diagnose   boot the debug guest, let SCENARIO deadlock, print each stuck task's state, wait
#                time, stack, the lock it waits on, its kind and holder, the cycle, lock_stat (drgn);
#                CORE=file also saves the guest's memory, FROM=file reads such a dump instead
#   make gdb     the same deadlocked guest under gdb, with the kernel's gdb scripts (lx-ps, ...)
#   make bench   measure boot, warm run and test-suite times
#   make soak N=10   every lab test N times on both kernels, then 20 fresh boots buggy and fixed
#   make bench-splat splat's throughput and peak memory on a generated 400 MB console log
#   make kernel / setup / clean / clean-cache
#   make kernel-key  the name of the kernel's build directory in the cache, which carries its key
#                (CI caches the build under it)
#
# KERNEL=7.3 (the default) or KERNEL=6.12 picks the guest kernel series (see scripts/env.sh);
# LAB_VARIANT=kcsan or debug a variant of it (qemu/kcsan.config or qemu/debug.config on top,
# built when first asked for).
# LAB_REFRESH=1 make setup looks for a newer package of the series than the one in the cache.
#
# The kernel, bindgen and guest logs live in the cache: $RUST_DEADLOCK_CACHE, by default
# $XDG_CACHE_HOME/rust-deadlock or ~/.cache/rust-deadlock (see scripts/env.sh).

# rustup installs cargo and rustc here; keep them reachable when the caller's PATH lacks them.
export PATH := $(PATH):$(HOME)/.cargo/bin

# `make test` without KERNEL= tests every series; with it, that one.
TEST_KERNELS := $(if $(filter undefined,$(origin KERNEL)),all,$(KERNEL))
# make test TESTS=host|lab SHARD=M/N: one part of it (scripts/make/test.sh).
TEST_PARTS := $(or $(TESTS),all)
TEST_SHARD := $(SHARD)
export TEST_PARTS TEST_SHARD
# The default series: the first of scripts/env.sh's KERNELS, where the lab's facts live. (`:=`:
# found once, not at each use.)
ifeq ($(origin KERNEL),undefined)
KERNEL := $(firstword $(shell sed -n 's/^KERNELS=(\(.*\))$$/\1/p' scripts/env.sh))
endif
SCENARIO ?= abba
# PANIC is checked before anything is built (lab demo checks it again, with the scenario).
ifneq ($(filter-out 0 1,$(PANIC)),)
$(error PANIC=$(PANIC): not a choice: PANIC=1 makes the kernel panic at the deadlock, PANIC=0 does not)
endif
export KERNEL TEST_KERNELS LAB_VARIANT SCENARIO PANIC

ifeq ($(KDIR),)
# Found at its first use (only the targets that build need it), then kept: each search costs 0.1 s.
KDIR = $(eval KDIR := $(shell KERNEL=$(KERNEL) LAB_VARIANT=$(LAB_VARIANT) scripts/setup/build-kernel.sh --dir))$(KDIR)
KERNEL_DEP := kernel
endif

CARGO := cargo --quiet
HOST := --manifest-path scripts/Cargo.toml
# The guest's static tool, a crate outside the workspace (see lab::guest_tool).
GUEST_TOOL := scripts/guest/fail-nth/Cargo.toml

.PHONY: all module kernel setup run shell test check bench bench-splat soak clean clean-cache host \
	diagnose gdb test-plan kernel-key

all: module

setup:
	@scripts/setup/setup-host.sh

kernel: setup
	@scripts/setup/build-kernel.sh >/dev/null

kernel-key:
	@scripts/setup/build-kernel.sh --key

# The module's build products. Not kbuild's own `clean`: it searches the whole tree, cargo's
# scripts/target too, and deletes files there.
MODULE_PRODUCTS := .module-common.o .*.cmd Module.symvers modules.order \
	src/.*.cmd src/*.o src/*.ko src/*.mod src/*.mod.c src/.built-for

# Objects built for one kernel are cleaned before building for another (src/.built-for says which).
# Kbuild takes 1-2 s even when nothing changed: it is skipped when the module was built for this
# kernel after every source and the kernel's symbols changed.
module: $(KERNEL_DEP)
	@[ "$$(cat src/.built-for 2>/dev/null)" = "$(KDIR)" ] || rm -f $(MODULE_PRODUCTS)
	@[ -f src/rust_deadlock.ko ] && [ -z "$$(find src Kbuild $(KDIR)/Module.symvers \
		\( -name '*.rs' -o -name Kbuild -o -name Module.symvers \) -newer src/rust_deadlock.ko)" ] \
		|| $(MAKE) -s -C $(KDIR) M=$(CURDIR) KRUSTFLAGS=-Dwarnings
	@echo "$(KDIR)" > src/.built-for

# (Without make's jobserver, which cargo cannot reach from a recipe: cargo runs its own jobs.)
host: setup
	@MAKEFLAGS= $(CARGO) build --release $(HOST) --bin splat --bin lab

# On a fresh machine the kernel's build and the host tools' build do not depend on each other:
# they run side by side (two jobs), which fills the CPU the kernel build leaves idle.
run:
	@$(MAKE) --no-print-directory -j2 module host
	@scripts/make/run-demo.sh

# The guest command line reaches vm.sh through the environment, unexpanded by make, so that its
# quoting and any $(...) survive.
LAB_CMD := $(value CMD)
export LAB_CMD
shell: module
	@if [ -n "$$LAB_CMD" ]; then scripts/guest/vm.sh -- "$$LAB_CMD"; else scripts/guest/vm.sh; fi

# For each kernel: the checks (they build the module with CLIPPY=1), the plain module build, then
# the VM tests; the host tests once. See scripts/make/test.sh.
test: host
	@scripts/make/test.sh

test-plan:
	@scripts/make/test.sh --plan

check: $(KERNEL_DEP)
	@[ "$$(cat src/.built-for 2>/dev/null)" = "$(KDIR)" ] || rm -f $(MODULE_PRODUCTS)
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR) CLIPPY=1 KRUSTFLAGS=-Dwarnings
	@echo "$(KDIR)" > src/.built-for
	@rustfmt --check --edition 2021 src/*.rs src/compat/*.rs
	@$(CARGO) fmt $(HOST) --all --check
	@$(CARGO) clippy --quiet $(HOST) --all-targets
	@$(CARGO) fmt --manifest-path $(GUEST_TOOL) --check
	@RUSTFLAGS='-C target-feature=+crt-static' $(CARGO) clippy --quiet --manifest-path $(GUEST_TOOL) \
		--target x86_64-unknown-linux-gnu --target-dir scripts/target
	@scripts/setup/setup-host.sh --ci
	@bash -c '. scripts/env.sh && exec "$$ACTIONLINT" -no-color .github/workflows/*.yml'

# The debug variant of the kernel (qemu/debug.config), built when first asked for, and the module
# built against it.
diagnose gdb: LAB_VARIANT = debug
diagnose: module host
	@scripts/make/diagnose.sh diagnose
gdb: module host
	@scripts/make/diagnose.sh gdb

bench:
	@$(MAKE) --no-print-directory -j2 module host
	@scripts/make/bench.sh

soak: host
	@scripts/make/soak.sh

bench-splat: setup
	@scripts/splat/bench.sh 400

clean:
	@rm -f $(MODULE_PRODUCTS)
	@$(CARGO) clean $(HOST)

clean-cache:
	rm -rf "$$(. scripts/env.sh && echo $$CACHE)"
