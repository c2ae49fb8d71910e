# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared settings and helpers for the ridxd developer tooling.  Sourced by ridxd-dev.
#
# Everything big lives in $RIDXD_CACHE (outside the repository) so that reruns are fast:
#   $RIDXD_CACHE/src/linux-<ver>     pristine kernel tree from Debian's linux-source-7.3
#   $RIDXD_CACHE/linux               work tree: a copy of the pristine tree + our overlay
#   $RIDXD_CACHE/build-{kunit,guest,debug}   O= build directories
#   $RIDXD_CACHE/build-headers       "make headers" output (UAPI headers for the kselftests)
#   $RIDXD_CACHE/selftests           the kselftest programs (lib.mk OUTPUT=)
#   $RIDXD_CACHE/tools               bindgen, the TCG-only qemu wrapper, busybox
#   $RIDXD_CACHE/logs                every build / boot log

RIDXD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
RIDXD_TOOLS=$RIDXD_ROOT/tools/testing/ridxd
RIDXD_CACHE=${RIDXD_CACHE:-$HOME/.cache/ridxd}
KVER_SERIES=7.3                       # the kernel series we build against (major.minor)
BINDGEN_VER=${BINDGEN_VER:-0.72.1}    # rust_is_available.sh wants >= 0.72.1 with libclang >= 22
LLVM_VER=22                           # libclang1-22, bookworm-security
JOBS=${JOBS:-$(nproc)}
# All kernel builds use clang/lld 22: Rust + KASAN needs a clang-built kernel.
KMAKE_LLVM=LLVM=/usr/lib/llvm-$LLVM_VER/bin/
RIDXD_KVM=${RIDXD_KVM:-0}             # 1: use KVM (off by default: the nested PVM here hangs guests)

SRC_DIR=$RIDXD_CACHE/src
KSRC=$RIDXD_CACHE/linux
TOOLS=$RIDXD_CACHE/tools
LOGS=$RIDXD_CACHE/logs
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$RIDXD_CACHE" "$TOOLS" "$LOGS" "$SRC_DIR"

# Kernel log lines that fail a run: oops, BUG, WARN, lockdep, KASAN, kmemleak, hung tasks.
SPLAT_RE='(BUG:|WARNING:|Oops|Kernel panic|general protection fault|KASAN:|UBSAN:|'
SPLAT_RE+='possible circular locking|possible recursive locking|inconsistent lock state|'
SPLAT_RE+='suspicious RCU usage|unreferenced object 0x|INFO: task .* blocked|'
SPLAT_RE+='sleeping function called from invalid context|Call Trace:|RIP: )'

log()  { printf '### %s\n' "$*"; }
die()  { printf '!!! %s\n' "$*" >&2; exit 1; }

# Seconds since the epoch, and a phase timer that records into $PHASES for the summary.
PHASES=()
phase() {
	local name=$1; shift
	local t0=$SECONDS rc=0
	log "[$name] start $(date +%T)"
	"$@" || rc=$?
	local dt=$((SECONDS - t0))
	PHASES+=("$(printf '%-22s %5ss  %s' "$name" "$dt" "$([ $rc = 0 ] && echo ok || echo "FAILED rc=$rc")")")
	log "[$name] $([ $rc = 0 ] && echo done || echo "FAILED rc=$rc") in ${dt}s"
	return $rc
}
print_phases() {
	echo "---- summary (times in seconds) ----"
	printf '%s\n' "${PHASES[@]}"
}

# run_logged LOG CMD...: run CMD with output to LOG; on failure show the tail of LOG.
run_logged() {
	local lf=$1; shift
	if ! "$@" >"$lf" 2>&1; then
		echo "!!! command failed: $* (log: $lf)" >&2
		tail -n 60 "$lf" >&2
		return 1
	fi
}

# Install the named Debian packages that are not installed yet (naming an installed package
# in apt-get install would upgrade it as a side effect).
apt_install_missing() {
	local miss=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || miss+=("$p")
	done
	[ ${#miss[@]} -eq 0 ] && return 0
	apt_update_once
	apt-get install -y --no-install-recommends "${APTO[@]}" "${miss[@]}"
}
APTO=()
APT_UPDATED=0
apt_update_once() {
	[ $APT_UPDATED = 1 ] && return 0
	apt-get update -qq
	APT_UPDATED=1
}

# The host's first plain Debian mirror URI (not the security one), from its own apt config.
debian_mirror() {
	{
		grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
		grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -E 's/\[[^]]*\]//' | awk '{print $2}'
	} | grep -v -- '-security' | grep -E '/debian/?$' | head -n1
}

# private_apt NAME SUITE [with-host]: sets PAPT=( -o ... ) for an apt configuration of our own
# that adds one Debian suite (and, with "with-host", the host's sources so dependencies
# resolve).  /etc/apt is never touched.
private_apt() {
	local name=$1 suite=$2 withhost=${3:-} d m f
	d=$RIDXD_CACHE/apt-$name
	m=$(debian_mirror)
	[ -n "$m" ] || die "cannot derive a Debian mirror from /etc/apt"
	mkdir -p "$d/parts" "$d/lists/partial"
	rm -f "$d/parts/"*
	if [ -n "$withhost" ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
			[ -s "$f" ] && grep -q debian "$f" && cp "$f" "$d/parts/host-$(basename "$f")"
		done
	fi
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m $suite main" >"$d/parts/extra.list"
	PAPT=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$d/parts"
		-o "Dir::State::Lists=$d/lists")
	apt-get "${PAPT[@]}" update -qq
}

# Environment for kernel builds: Debian's rustc-web must win over rustup's rustc.
kenv() {
	export PATH=$TOOLS/rustbin:$TOOLS/bin:$PATH
	export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VER/lib
	unset RUST_LIB_SRC RUSTUP_TOOLCHAIN
}

# The QEMU acceleration and CPU of the guests: TCG unless RIDXD_KVM=1 and /dev/kvm is usable.
# LA57 is off, so guests boot with 4-level paging:
#  - with LA57 a KASAN kernel can report a false "wild-memory-access" at boot, at random: an
#    interrupt that arrives while identify_boot_cpu() has cleared boot_cpu_data's capabilities
#    (IRQs are on, alternatives not yet patched) sees pgtable_l5_enabled() false, so the
#    4-level KASAN_SHADOW_START, and a 5-level direct-map address (0xff11...) looks wild;
#  - Linux VT-d SVA with a 5-level CPU needs 5-level first-stage tables from the IOMMU, which
#    QEMU's intel-iommu does not offer.
qemu_accel() {
	if [ "$RIDXD_KVM" = 1 ] && [ -w /dev/kvm ]; then
		echo "-accel kvm -cpu host,la57=off"
	else
		echo "-accel tcg -cpu max,la57=off"
	fi
}
