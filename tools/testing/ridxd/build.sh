# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Kernel builds.  Two build directories share the one work tree ($KSRC):
#   build-guest   guest kernel, ridxd as a module (configs/guest.config)
#   build-debug   the same plus lockdep, KASAN and kmemleak, and KUnit: ridxd's suites in the
#                 module, the kernel crate's doctests built in (configs/guest.config +
#                 debug.config); run_kunit boots it to run them
# (drivers/dma/ridxd/.kunitconfig is for kunit.py run, the upstream way; the harness does not
# build a third kernel for it.)
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
# debug.config's settings replace guest.config's of the same symbols.
guest_fragment() {
	local g=$RIDXD_TOOLS/configs/guest.config d=$RIDXD_TOOLS/configs/debug.config syms
	if [ "$1" != debug ]; then
		cat "$g"
		return 0
	fi
	syms=$(sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' "$d" | paste -sd'|')
	grep -vE "^($syms)=" "$g"
	cat "$d"
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
	local ko
	ko=$(ridxd_module_name "$b").ko
	[ -f "$b/drivers/dma/ridxd/$ko" ] || die "$v build produced no $ko"
	log "$v kernel: $(du -h "$b/arch/x86/boot/bzImage" | cut -f1) bzImage, $ko $(du -h "$b/drivers/dma/ridxd/$ko" | cut -f1)"
}

# ridxd_module_name BUILD_DIR: the driver's module in that build, "ridxd", or "idxd" where it is
# configured with CONFIG_INTEL_IDXD_RUST_AS_IDXD (the debug kernel: configs/debug.config).
ridxd_module_name() {
	if grep -qx 'CONFIG_INTEL_IDXD_RUST_AS_IDXD=y' "$1/.config"; then echo idxd; else echo ridxd; fi
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

# KUnit results: one kunit.py JSON file per KTAP document of the last run (the boot's built-in
# suites, then the module's).
KUNIT_JSON_DIR=$RIDXD_CACHE/kunit-results

# run_kunit [GLOB]: ridxd's KUnit suites and the kernel crate's doctests, in the debug guest
# kernel that carries them (configs/debug.config: lockdep, KASAN, kmemleak), which must be
# built: boot it with kunit.enable=1 (and kunit.filter_glob=GLOB) to run guest/kunit.sh, then
# read the console's KTAP with the kernel's own parser, tools/testing/kunit/kunit.py parse.
# vm_run fails the run on a kernel splat (a lockdep or KASAN report does not fail a KUnit
# test), a kmemleak report or no exit status; this fails it too if a test failed or the
# console held no KTAP.
run_kunit() {
	kenv
	local glob=${1:-} rc=0
	VM_APPEND="kunit.enable=1${glob:+ kunit.filter_glob=$glob}" vm_run debug kunit.sh \
		>"$LOGS/kunit-guest.log" || rc=1
	kunit_parse "$VM_LOG" >"$LOGS/kunit.log" 2>&1 || rc=1
	grep -E '\[(PASSED|FAILED|SKIPPED|CRASHED)\]|Testing complete' "$LOGS/kunit.log" | tail -n 60
	if [ $rc != 0 ]; then
		grep -E -B2 -A8 'ASSERTION FAILED|EXPECTATION FAILED|\[FAILED\]|\[CRASHED\]|^kunit:' \
			"$LOGS/kunit.log" | head -n 120 >&2
		echo "!!! KUnit run failed (console: $VM_LOG, parser: $LOGS/kunit.log)" >&2
	fi
	return $rc
}

# kunit_parse LOG: split LOG (a console log) into its KTAP documents (each starts at an
# unindented "KTAP version" line: the kernel prints one for the built-in suites at boot and one
# for each module's suites as it loads) and parse each with kunit.py parse, which prints its
# summary and writes $KUNIT_JSON_DIR/N.json; a document with no suite (plan 1..0: the filter
# took them all) is left out.  Fails if a document has a failed test or LOG has no KTAP with
# a test.
kunit_parse() {
	rm -rf "$KUNIT_JSON_DIR"
	mkdir -p "$KUNIT_JSON_DIR"
	python3 - "$1" "$KUNIT_JSON_DIR" <<-'EOF' || return 1
	import sys
	docs, cur = [], None
	for line in open(sys.argv[1], errors="replace"):
	    if line.startswith(("KTAP version", "TAP version")):
	        cur = []
	        docs.append(cur)
	    if cur is not None:
	        cur.append(line)
	# A plan of 1..0: the filter left none of that document's suites (kunit.py parse would
	# call it an error).
	docs = [d for d in docs if len(d) < 2 or d[1].strip() != "1..0"]
	if not docs:
	    sys.exit(f"kunit: no KTAP with a test in {sys.argv[1]}")
	for i, d in enumerate(docs, 1):
	    open(f"{sys.argv[2]}/{i}.ktap", "w").writelines(d)
	EOF
	local d rc=0
	for d in "$KUNIT_JSON_DIR"/*.ktap; do
		(cd "$KSRC" && python3 tools/testing/kunit/kunit.py parse --json="${d%.ktap}.json" "$d") ||
			rc=1
	done
	return $rc
}

# kunit_totals: "passed failed skipped" of the last KUnit run, from the results kunit.py parse
# wrote with --json (tools/testing/kunit/kunit_json.py: groups with "sub_groups" and
# "test_cases", each case's "status" PASS, SKIP, or FAIL/ERROR for a failed or crashed one).
# Test cases are counted through all levels (parameterised cases are a group of their own); a
# failure only a group's counts know of (a suite that failed after its cases passed) counts
# too.  Fails if there are no results (the parser did not get as far as writing any).
kunit_totals() {
	python3 - "$KUNIT_JSON_DIR" <<-'EOF'
	import glob, json, sys
	n = {"passed": 0, "failed": 0, "skipped": 0}
	def walk(group):
	    for case in group.get("test_cases", []):
	        st = case.get("status")
	        n["passed" if st == "PASS" else "skipped" if st == "SKIP" else "failed"] += 1
	    for sub in group.get("sub_groups", []):
	        walk(sub)
	files = sorted(glob.glob(f"{sys.argv[1]}/*.json"))
	if not files:
	    sys.exit(f"kunit: no results in {sys.argv[1]}")
	for path in files:
	    try:
	        with open(path) as f:
	            top = json.load(f)
	    except (OSError, ValueError) as e:
	        sys.exit(f"kunit: no results in {path}: {e}")
	    before = n["failed"]
	    walk(top)
	    misc = top.get("misc", {})
	    n["failed"] = max(n["failed"], before + misc.get("failed", 0) + misc.get("crashed", 0))
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
