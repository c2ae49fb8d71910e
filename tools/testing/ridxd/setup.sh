# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# "ridxd-dev setup": install everything the project needs on a fresh Debian 12 (bookworm)
# x86_64 machine, from Debian's packages and crates.io only.  A no-op when already done.
#
#   host build deps      gcc make bc flex bison libelf-dev libssl-dev cpio kmod rsync ...
#   Rust for the kernel  rustc-web + rust-web-src 1.96 (bookworm-security, a matched pair),
#                        libclang1-22, clang-22, lld-22, llvm-22 (bookworm-security),
#                        bindgen-cli $BINDGEN_VER (cargo)
#   guest                qemu-system-x86 (bookworm-backports), busybox-static (unpacked only),
#                        strace (copied into the guest with its libraries)
#   kernel source        linux-source-7.3 (trixie-backports, downloaded and unpacked only)

setup_host_deps() {
	apt_install_missing gcc make libc6-dev bc flex bison libelf-dev libssl-dev cpio kmod \
		rsync python3 xz-utils gzip strace
}

setup_rust() {
	# clang/lld: kernel builds use LLVM=, which Rust + KASAN requires (init/Kconfig: RUST
	# "depends on !KASAN || CC_IS_CLANG"); same LLVM major as rustc-web's.
	apt_install_missing rustc-web rust-web-src "libclang1-$LLVM_VER" "clang-$LLVM_VER" \
		"lld-$LLVM_VER" "llvm-$LLVM_VER"
	# Kernel builds get /usr/bin/rustc (Debian) first on PATH; rustup's stays for cargo.
	mkdir -p "$TOOLS/rustbin"
	ln -sf /usr/bin/rustc /usr/bin/rustdoc "$TOOLS/rustbin/"
	[ -e /usr/bin/rustfmt ] && ln -sf /usr/bin/rustfmt "$TOOLS/rustbin/"
	if ! "$TOOLS/bin/bindgen" --version 2>/dev/null | grep -q "$BINDGEN_VER"; then
		command -v cargo >/dev/null || apt_install_missing cargo-web
		run_logged "$LOGS/bindgen-install.log" \
			cargo install --locked "bindgen-cli@$BINDGEN_VER" --root "$TOOLS"
	fi
}

setup_qemu() {
	if ! command -v qemu-system-x86_64 >/dev/null; then
		private_apt bookworm-bpo bookworm-backports with-host
		apt-get install -y --no-install-recommends "${PAPT[@]}" -t bookworm-backports qemu-system-x86
	fi
}

setup_busybox() {
	[ -x "$TOOLS/busybox/bin/busybox" ] && return 0
	mkdir -p "$RIDXD_CACHE/debs"
	apt_update_once
	(cd "$RIDXD_CACHE/debs" && apt-get download busybox-static)
	dpkg -x "$RIDXD_CACHE"/debs/busybox-static_*.deb "$TOOLS/busybox"
}

# The pristine kernel tree: $SRC_DIR/linux (a symlink to linux-<debian version>).  The Debian
# version used is recorded in $SRC_DIR/VERSION.  RIDXD_KERNEL_DEB=<version> pins one.
setup_kernel_source() {
	if [ -f "$SRC_DIR/linux/Makefile" ] && [ -f "$SRC_DIR/VERSION" ]; then
		return 0
	fi
	private_apt trixie-bpo trixie-backports
	local pkg=linux-source-$KVER_SERIES ver
	ver=${RIDXD_KERNEL_DEB:-$(apt-cache "${PAPT[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')}
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no $pkg in trixie-backports"
	log "kernel source: $pkg $ver"
	local dl=$RIDXD_CACHE/debs
	mkdir -p "$dl"
	(cd "$dl" && apt-get "${PAPT[@]}" download "$pkg=$ver")
	local deb
	deb=$(ls "$dl"/"${pkg}"_*.deb | head -n1)
	rm -rf "$SRC_DIR/unpack" && mkdir -p "$SRC_DIR/unpack"
	dpkg -x "$deb" "$SRC_DIR/unpack"
	local tarball
	tarball=$(ls "$SRC_DIR"/unpack/usr/src/"$pkg".tar.* | head -n1)
	rm -rf "$SRC_DIR/linux-$ver" && mkdir -p "$SRC_DIR/linux-$ver"
	tar -C "$SRC_DIR/linux-$ver" --strip-components=1 -xf "$tarball"
	rm -rf "$SRC_DIR/unpack" "$deb"
	ln -sfn "linux-$ver" "$SRC_DIR/linux"
	echo "$pkg $ver" >"$SRC_DIR/VERSION"
	[ "$(make -s -C "$SRC_DIR/linux" kernelversion | cut -d. -f1-2)" = "$KVER_SERIES" ] ||
		die "$pkg does not hold a $KVER_SERIES kernel"
}

do_setup() {
	[ "$(id -u)" = 0 ] || die "setup installs Debian packages: run it as root"
	phase setup-host-deps setup_host_deps
	phase setup-rust setup_rust
	phase setup-qemu setup_qemu
	# The project's QEMU with the intel-dsa device (tools/testing/ridxd/qemu/qemu.sh).
	phase setup-qemu-dsa setup_qemu_dsa
	phase setup-busybox setup_busybox
	phase setup-kernel-src setup_kernel_source
	log "kernel source: $(cat "$SRC_DIR/VERSION")"
}
