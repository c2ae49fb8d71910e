# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# accel-config 4.1.9 (intel/idxd-config) from Debian sid's source package, built statically
# (the guest initramfs has no C library): the accel-config CLI and the dsa_test program, for the
# guest that checks the intel-dsa QEMU device with the C idxd driver.  Sourced by ridxd-dev.
#
#   $RIDXD_CACHE/accel-config/src     dpkg-source -x of the package
#   $RIDXD_CACHE/accel-config/out     accel-config and dsa_test, static, plus test_all.sh

ACCFG_DEB=4.1.9+ds-2
ACCFG_DIR=$RIDXD_CACHE/accel-config

setup_accel_config() {
	local o=$ACCFG_DIR/out s=$ACCFG_DIR/src
	if [ -x "$o/accel-config" ] && [ -x "$o/dsa_test" ] &&
		[ "$(cat "$o/.ridxd-deb" 2>/dev/null)" = "$ACCFG_DEB" ]; then
		return 0
	fi
	apt_install_missing autoconf automake libtool pkg-config libjson-c-dev uuid-dev dpkg-dev file
	mkdir -p "$ACCFG_DIR/dl"
	if [ ! -f "$ACCFG_DIR/dl/accel-config_$ACCFG_DEB.dsc" ]; then
		local d=$ACCFG_DIR/apt-sid-src m
		m=$(debian_mirror)
		[ -n "$m" ] || die "cannot derive a Debian mirror from /etc/apt"
		mkdir -p "$d/parts" "$d/lists/partial"
		echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m sid main" >"$d/parts/sid-src.list"
		local P=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$d/parts"
			-o "Dir::State::Lists=$d/lists")
		apt-get "${P[@]}" update -qq
		(cd "$ACCFG_DIR/dl" && apt-get "${P[@]}" source --download-only "accel-config=$ACCFG_DEB") ||
			die "cannot download the accel-config $ACCFG_DEB source package"
	fi
	rm -rf "$s" "$o"
	run_logged "$LOGS/accfg-unpack.log" dpkg-source -x "$ACCFG_DIR/dl/accel-config_$ACCFG_DEB.dsc" "$s" ||
		die "dpkg-source -x of accel-config failed"
	(cd "$s" && run_logged "$LOGS/accfg-autogen.log" ./autogen.sh) || die "accel-config autogen failed"
	(cd "$s" && run_logged "$LOGS/accfg-configure.log" ./configure --prefix=/usr --sysconfdir=/etc \
		--enable-test=yes --disable-docs --disable-shared --enable-static \
		--with-bash-completion-dir=no) || die "accel-config configure failed"
	# -all-static: libtool links the programs fully statically.
	run_logged "$LOGS/accfg-build.log" make -C "$s" -j"$JOBS" LDFLAGS=-all-static ||
		die "accel-config build failed (log: $LOGS/accfg-build.log)"
	mkdir -p "$o"
	cp "$s/accfg/accel-config" "$s/test/dsa_test" "$o/"
	cp "$s/test_all.sh" "$o/" 2>/dev/null || true
	local f
	for f in "$o/accel-config" "$o/dsa_test"; do
		file "$f" | grep -q 'statically linked' || die "$f is not statically linked"
	done
	echo "$ACCFG_DEB" >"$o/.ridxd-deb"
	log "accel-config $ACCFG_DEB: $("$o/accel-config" --version 2>/dev/null || echo '?')"
}
