# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Kernel builds.  Three build directories share the one work tree ($KSRC):
#   build-kunit   kunit.py's kernel: ridxd built in, its KUnit suites, lockdep + KASAN
#                 (configuration: drivers/dma/ridxd/.kunitconfig)
#   build-guest   guest kernel, ridxd as a module (configs/guest.config)
#   build-debug   the same plus lockdep, KASAN and kmemleak (configs/guest.config + debug.config)
# Each is configured once (again only when its fragment changes) and then built incrementally.

# check_fragment FRAGMENT DOTCONFIG: every setting of FRAGMENT must be in DOTCONFIG (a symbol
# whose dependencies are missing is silently dropped by olddefconfig; catch that here).
check_fragment() {
	local frag=$1 cfg=$2 line sym bad=0
	while read -r line; do
		case $line in
		CONFIG_*=n)
			sym=${line%%=*}
			if grep -q "^$sym=" "$cfg"; then echo "config: $sym should be off" >&2; bad=1; fi ;;
		CONFIG_*=*)
			grep -qxF -- "$line" "$cfg" || { echo "config: '$line' did not survive olddefconfig" >&2; bad=1; } ;;
		esac
	done <"$frag"
	return $bad
}

# guest_fragment VARIANT: the configuration fragment of a guest kernel, on stdout.
guest_fragment() {
	cat "$RIDXD_TOOLS/configs/guest.config"
	[ "$1" = debug ] && cat "$RIDXD_TOOLS/configs/debug.config"
	return 0
}

# configure_build NAME FRAGMENT: configure $RIDXD_CACHE/build-NAME from FRAGMENT (a file) with
# olddefconfig, once and again only when the fragment changes, and check that every line of the
# fragment survived.  Prints the build directory.
configure_build() {
	local name=$1 b=$RIDXD_CACHE/build-$1 frag sum
	mkdir -p "$b"
	frag=$b/.ridxd-fragment
	cp "$2" "$frag.new"
	sum=$(md5sum <"$frag.new")
	if [ ! -f "$b/.config" ] || [ "$(cat "$b/.ridxd-fragment-sum" 2>/dev/null)" != "$sum" ]; then
		log "configuring the $name kernel" >&2
		cp "$frag.new" "$b/.config"
		run_logged "$LOGS/config-$name.log" make -C "$KSRC" O="$b" "$KMAKE_LLVM" olddefconfig >&2 ||
			return 1
		echo "$sum" >"$b/.ridxd-fragment-sum"
	fi
	mv "$frag.new" "$frag"
	check_fragment "$frag" "$b/.config" >&2 || die "$name kernel configuration is incomplete"
	echo "$b"
}

# build_guest VARIANT (guest|debug): bzImage and modules in $RIDXD_CACHE/build-VARIANT.
build_guest() {
	local v=$1 b
	kenv
	guest_fragment "$v" >"$LOGS/fragment-$v"
	b=$(configure_build "$v" "$LOGS/fragment-$v") || return 1
	# The guests run the kselftests: what their config file asks for must be there too.
	check_fragment "$KSRC/tools/testing/selftests/drivers/dma/ridxd/config" "$b/.config" ||
		die "$v kernel lacks options tools/testing/selftests/drivers/dma/ridxd/config asks for"
	# A failed build must fail here: the ridxd.ko of an earlier build would pass the check below
	# (functions that "phase" runs are in an || list, where set -e does not stop them).
	run_logged "$LOGS/build-$v.log" make -C "$KSRC" O="$b" "$KMAKE_LLVM" -j"$JOBS" bzImage modules ||
		return 1
	[ -f "$b/drivers/dma/ridxd/ridxd.ko" ] || die "$v build produced no ridxd.ko"
	log "$v kernel: $(du -h "$b/arch/x86/boot/bzImage" | cut -f1) bzImage, ridxd.ko $(du -h "$b/drivers/dma/ridxd/ridxd.ko" | cut -f1)"
}

# build_nosim: compile the driver crate the way a hardware user builds it, without the device
# model and without KUnit (guest.config with INTEL_IDXD_RUST_SIM off), into
# $RIDXD_CACHE/build-nosim.  The crate builds with -Dwarnings, so an item only the model or the
# tests use fails here.  Only the driver's directory is built (plus what it needs), not a
# bootable kernel.
build_nosim() {
	local b
	kenv
	{ grep -v '^CONFIG_INTEL_IDXD_RUST_SIM=' "$RIDXD_TOOLS/configs/guest.config"
	  echo 'CONFIG_INTEL_IDXD_RUST_SIM=n'; } >"$LOGS/fragment-nosim"
	b=$(configure_build nosim "$LOGS/fragment-nosim") || return 1
	run_logged "$LOGS/build-nosim.log" make -C "$KSRC" O="$b" "$KMAKE_LLVM" -j"$JOBS" \
		drivers/dma/ridxd/ || return 1
	[ -f "$b/drivers/dma/ridxd/ridxd.o" ] || die "the no-model build produced no ridxd.o"
}

KUNIT_JSON=$RIDXD_CACHE/kunit-results.json
# kunit.py's x86_64 QEMU configuration names no CPU, so its guest is QEMU's default qemu64,
# which has no LA57.  Name that model, with LA57 off, so that a change of QEMU's default can't
# bring 5-level paging (and its KASAN boot race, see qemu_accel) to the KUnit kernel.  Not
# "max" as in the guests: that would change the CPU features the suites run with.
KUNIT_QEMU_CPU="-cpu qemu64,la57=off"

# run_kunit [FILTER]: build and run the driver's KUnit suites under QEMU (TCG unless
# RIDXD_KVM=1).  Exits non-zero if any test fails or no KTAP output appears.
run_kunit() {
	kenv
	local args=(run --arch=x86_64 --build_dir="$RIDXD_CACHE/build-kunit"
		--kunitconfig="$KSRC/drivers/dma/ridxd/.kunitconfig" --jobs="$JOBS"
		--timeout=600 --json="$KUNIT_JSON" --make_options="$KMAKE_LLVM"
		--qemu_args="$KUNIT_QEMU_CPU")
	[ -n "${1:-}" ] && args+=("$1")
	# The totals come from this run's results only.
	rm -f "$KUNIT_JSON"
	(cd "$KSRC" && python3 tools/testing/kunit/kunit.py "${args[@]}") >"$LOGS/kunit.log" 2>&1 || {
		# Compiler errors first, then failed tests, then the end of the log.
		grep -E -A12 '^(ERROR:root:)?error(\[E[0-9]+\])?:' "$LOGS/kunit.log" | head -n 80 >&2
		grep -E -B2 -A8 'ASSERTION FAILED|EXPECTATION FAILED|\[FAILED\]|\[CRASHED\]' \
			"$LOGS/kunit.log" | head -n 120 >&2
		tail -n 15 "$LOGS/kunit.log" >&2
		return 1
	}
	grep -E '\[(PASSED|FAILED|SKIPPED|CRASHED)\]|Testing complete' "$LOGS/kunit.log" | tail -n 60
	# A lockdep report does not fail a KUnit test: check the raw console too.
	if grep -qE "$SPLAT_RE" "$RIDXD_CACHE/build-kunit/test.log"; then
		echo "!!! kernel splat during KUnit (full log: $RIDXD_CACHE/build-kunit/test.log):" >&2
		grep -nE -B2 -A25 "$SPLAT_RE" "$RIDXD_CACHE/build-kunit/test.log" | head -n 120 >&2
		return 1
	fi
}

# kunit_totals: "passed failed skipped" of the last kunit.py run, from the results it wrote
# with --json (tools/testing/kunit/kunit_json.py: groups with "sub_groups" and "test_cases",
# each case's "status" PASS, SKIP, or FAIL/ERROR for a failed or crashed one).  Test cases
# are counted through all levels (parameterised cases are a group of their own); a failure
# only a group's counts know of (a suite that failed after its cases passed) counts too.
# Fails if there are no results (kunit.py did not get as far as parsing any).
kunit_totals() {
	python3 - "$KUNIT_JSON" <<-'EOF'
	import json, sys
	try:
	    with open(sys.argv[1]) as f:
	        top = json.load(f)
	except (OSError, ValueError) as e:
	    sys.exit(f"kunit: no results in {sys.argv[1]}: {e}")
	n = {"passed": 0, "failed": 0, "skipped": 0}
	def walk(group):
	    for case in group.get("test_cases", []):
	        st = case.get("status")
	        n["passed" if st == "PASS" else "skipped" if st == "SKIP" else "failed"] += 1
	    for sub in group.get("sub_groups", []):
	        walk(sub)
	walk(top)
	misc = top.get("misc", {})
	n["failed"] = max(n["failed"], misc.get("failed", 0) + misc.get("crashed", 0))
	if sum(n.values()) == 0:
	    sys.exit(f"kunit: no test cases in {sys.argv[1]}")
	print(n["passed"], n["failed"], n["skipped"])
	EOF
}

# build_selftests: the kselftest programs of tools/testing/selftests/drivers/dma/ridxd, built
# the way the selftests framework builds them: through their Makefile and lib.mk, against the
# work tree's UAPI headers ("make headers" into $RIDXD_CACHE/build-headers, named by
# KHDR_INCLUDES as lib.mk expects), into $RIDXD_CACHE/selftests, which the guest initramfs
# carries.  The guest has no C library, so the programs are linked statically: USERLDFLAGS is
# lib.mk's hook for that (the Makefile itself stays as any kselftest Makefile).
build_selftests() {
	local dir=$KSRC/tools/testing/selftests/drivers/dma/ridxd out=$RIDXD_CACHE/selftests
	local hdr=$RIDXD_CACHE/build-headers args
	mkdir -p "$out" "$hdr"
	local khdr="KHDR_INCLUDES=-isystem $hdr/usr/include"
	run_logged "$LOGS/selftests-headers.log" make -C "$dir" "$khdr" headers || return 1
	local mk=(-C "$dir" OUTPUT="$out" "$khdr" USERCFLAGS=-Werror USERLDFLAGS=-static)
	# Programs built with other flags (or by an older harness) are built again.
	args=$(printf '%s\n' "${mk[@]}")
	if [ "$(cat "$RIDXD_CACHE/selftests.args" 2>/dev/null)" != "$args" ]; then
		run_logged "$LOGS/selftests-clean.log" make "${mk[@]}" clean || return 1
		printf '%s\n' "$args" >"$RIDXD_CACHE/selftests.args"
	fi
	run_logged "$LOGS/selftests.log" make "${mk[@]}" all
}
