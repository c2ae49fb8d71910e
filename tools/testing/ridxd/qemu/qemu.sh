# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The project's QEMU: qemu-system-x86_64 from Debian sid's qemu source package (exact version
# in QEMU_DSA_DEB) with the patches of tools/testing/ridxd/qemu/patches/ applied (MOVDIR64B in
# TCG, intel-iommu PASID + device-IOTLB and ECAP.SMPWC, the intel-dsa device).  It is built
# next to Debian's QEMU, which stays the one the other guests use.  Sourced by setup.sh.
#
#   $RIDXD_CACHE/qemu-dsa/dl        the source package (.dsc, orig and debian tarballs)
#   $RIDXD_CACHE/qemu-dsa/pristine  dpkg-source -x of it (Debian's patches applied)
#   $RIDXD_CACHE/qemu-dsa/tree      pristine + our patches, updated with rsync --checksum so that
#                                   only files that changed get a new mtime (incremental ninja)
#   $RIDXD_CACHE/qemu-dsa/build     the meson/ninja build directory
#   $RIDXD_CACHE/qemu-dsa/venv      meson from PyPI (bookworm's 1.0 is older than 10.2 needs)
#   $RIDXD_CACHE/qemu-dsa/KEY       source version + hash of our QEMU files of the last good build
#
# The binary is $QEMU_DSA; run it with "${QEMU_DSA_FW[@]}": the +ds source has no firmware
# blobs, so the firmware of Debian's qemu-system-x86 (and its seabios and ipxe) is used.

QEMU_DSA_DEB=1:10.2.2+ds-1
QEMU_DSA_DIR=$RIDXD_CACHE/qemu-dsa
QEMU_DSA=$QEMU_DSA_DIR/build/qemu-system-x86_64
QEMU_DSA_FW=(-L /usr/share/qemu -L /usr/share/seabios -L /usr/lib/ipxe/qemu)
QEMU_DSA_MESON=1.7.0
QEMU_DSA_FILES=$RIDXD_TOOLS/qemu

# A hash of everything that goes into the project's QEMU besides the Debian source.
qemu_dsa_key() {
	{
		echo "$QEMU_DSA_DEB meson $QEMU_DSA_MESON"
		(cd "$QEMU_DSA_FILES" && find patches src -type f 2>/dev/null | LC_ALL=C sort | xargs -r md5sum) || true
		sed -n '/^qemu_dsa_configure() {/,/^}/p' "$QEMU_DSA_FILES/qemu.sh"
	} | md5sum | cut -d' ' -f1
}

# The sid source package, through an apt configuration of our own with one deb-src line.
qemu_dsa_fetch() {
	local d=$QEMU_DSA_DIR/apt-sid-src m up=${QEMU_DSA_DEB#*:}
	up=${up%-*}
	[ -f "$QEMU_DSA_DIR/pristine/VERSION" ] && [ -f "$QEMU_DSA_DIR/pristine/.ridxd-deb" ] &&
		[ "$(cat "$QEMU_DSA_DIR/pristine/.ridxd-deb")" = "$QEMU_DSA_DEB" ] && return 0
	m=$(debian_mirror)
	[ -n "$m" ] || die "cannot derive a Debian mirror from /etc/apt"
	mkdir -p "$d/parts" "$d/lists/partial" "$QEMU_DSA_DIR/dl"
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m sid main" >"$d/parts/sid-src.list"
	local P=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$d/parts"
		-o "Dir::State::Lists=$d/lists")
	apt-get "${P[@]}" update -qq
	(cd "$QEMU_DSA_DIR/dl" && apt-get "${P[@]}" source --download-only "qemu=$QEMU_DSA_DEB") ||
		die "cannot download the qemu $QEMU_DSA_DEB source package"
	rm -rf "$QEMU_DSA_DIR/pristine"
	run_logged "$LOGS/qemu-dsa-unpack.log" \
		dpkg-source -x "$QEMU_DSA_DIR/dl/qemu_${QEMU_DSA_DEB#*:}.dsc" "$QEMU_DSA_DIR/pristine" ||
		die "dpkg-source -x of qemu $QEMU_DSA_DEB failed"
	echo "$QEMU_DSA_DEB" >"$QEMU_DSA_DIR/pristine/.ridxd-deb"
}

qemu_dsa_meson() {
	local v=$QEMU_DSA_DIR/venv
	"$v/bin/meson" --version 2>/dev/null | grep -qx "$QEMU_DSA_MESON" && return 0
	rm -rf "$v"
	python3 -m venv "$v"
	run_logged "$LOGS/qemu-dsa-meson.log" "$v/bin/pip" install "meson==$QEMU_DSA_MESON" ||
		die "cannot install meson $QEMU_DSA_MESON from PyPI"
}

# meson comes from the venv: configure is run with its python, and mkvenv finds it there.
# The tree: a staging copy of pristine with our patches and sources, synced into tree/.
qemu_dsa_tree() {
	local st=$QEMU_DSA_DIR/stage p
	rm -rf "$st"
	cp -a "$QEMU_DSA_DIR/pristine" "$st"
	for p in "$QEMU_DSA_FILES"/patches/*.patch; do
		[ -e "$p" ] || continue
		patch -d "$st" -p1 --no-backup-if-mismatch -s <"$p" >"$LOGS/qemu-dsa-patch.log" 2>&1 || {
			cat "$LOGS/qemu-dsa-patch.log" >&2; die "QEMU patch $(basename "$p") does not apply"; }
	done
	# New files of ours (the device): src/<path in the QEMU tree>.
	[ -d "$QEMU_DSA_FILES/src" ] && cp -r "$QEMU_DSA_FILES/src/." "$st/"
	mkdir -p "$QEMU_DSA_DIR/tree"
	rsync -a --checksum --delete --exclude=/build "$st/" "$QEMU_DSA_DIR/tree/"
	rm -rf "$st"
}

qemu_dsa_configure() {
	local b=$QEMU_DSA_DIR/build
	[ -f "$b/build.ninja" ] && return 0
	rm -rf "$b" && mkdir -p "$b"
	(cd "$b" && run_logged "$LOGS/qemu-dsa-configure.log" "$QEMU_DSA_DIR/tree/configure" \
		--target-list=x86_64-softmmu --disable-docs --disable-tools --disable-guest-agent \
		--disable-werror --disable-download --disable-install-blobs \
		--python="$QEMU_DSA_DIR/venv/bin/python3") ||
		die "QEMU configure failed"
}

# setup_qemu_dsa: build (or bring up to date) the project's QEMU.  Loud on any failure.
setup_qemu_dsa() {
	local key
	apt_install_missing ninja-build libglib2.0-dev dpkg-dev patch python3-venv
	key=$(qemu_dsa_key)
	if [ -x "$QEMU_DSA" ] && [ "$(cat "$QEMU_DSA_DIR/KEY" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	qemu_dsa_fetch
	qemu_dsa_meson
	qemu_dsa_tree
	qemu_dsa_configure
	rm -f "$QEMU_DSA_DIR/KEY"
	run_logged "$LOGS/qemu-dsa-build.log" ninja -C "$QEMU_DSA_DIR/build" -j"$JOBS" qemu-system-x86_64 ||
		die "QEMU build failed (log: $LOGS/qemu-dsa-build.log)"
	"$QEMU_DSA" "${QEMU_DSA_FW[@]}" -machine q35 -device help 2>/dev/null | grep -q '"intel-dsa"' ||
		[ ! -d "$QEMU_DSA_FILES/src" ] || die "the built QEMU has no intel-dsa device"
	echo "$key" >"$QEMU_DSA_DIR/KEY"
	log "project QEMU: $("$QEMU_DSA" --version | head -n1) ($QEMU_DSA)"
}
