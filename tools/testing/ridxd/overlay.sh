# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Overlay this repository onto a Linux 7.3 tree.
#
# 1. Every file under OVERLAY_DIRS is copied into the tree.  None of them may exist in the
#    pristine kernel: the overlay only adds files.  Copies are by checksum, so an unchanged
#    file keeps its timestamp and incremental builds stay incremental.  Files that a previous
#    overlay added and that are gone from the repository are removed again.
# 2. Existing kernel files are touched only by the small, idempotent insertions in
#    overlay_hooks below (one line each, after a fixed anchor).
#
# Applying the overlay twice to the same tree changes nothing the second time.

OVERLAY_DIRS=(drivers/dma/ridxd rust include Documentation
	tools/testing/selftests/drivers/dma/ridxd)

# insert_after FILE ANCHOR-REGEX LINE: add LINE after the first line matching ANCHOR, unless
# FILE already has LINE.  Fails if the anchor is gone (the tree changed under us).
insert_after() {
	local f=$1 anchor=$2 line=$3
	grep -qxF -- "$line" "$f" && return 0
	grep -qE -- "$anchor" "$f" || die "overlay: anchor '$anchor' not found in $f"
	awk -v a="$anchor" -v l="$line" '{ print } !done && $0 ~ a { print l; done = 1 }' "$f" >"$f.ridxd.tmp"
	mv "$f.ridxd.tmp" "$f"
}

# append_line FILE LINE: add LINE at the end of FILE unless it is already there.
append_line() {
	local f=$1 line=$2
	grep -qxF -- "$line" "$f" && return 0
	printf '%s\n' "$line" >>"$f"
}

# append_block FILE BLOCK: add the multi-line BLOCK at the end of FILE unless its first line is
# already there.
append_block() {
	local f=$1 block=$2
	grep -qxF -- "${block%%$'\n'*}" "$f" && return 0
	printf '\n%s\n' "$block" >>"$f"
}

# The only changes made to files the kernel already has.
overlay_hooks() {
	local t=$1
	# KUnit only: the C idxd register definitions (and through them uapi/linux/idxd.h) as
	# bindings, the oracle the layout tests compare ridxd's own definitions against.
	append_block "$t/rust/bindings/bindings_helper.h" '#if IS_ENABLED(CONFIG_INTEL_IDXD_RUST_KUNIT_TEST)
#include "../../drivers/dma/idxd/registers.h"
#endif'

	insert_after "$t/drivers/dma/Kconfig" '^source "drivers/dma/amd/Kconfig"' \
		'source "drivers/dma/ridxd/Kconfig"'
	append_line "$t/drivers/dma/Makefile" 'obj-$(CONFIG_INTEL_IDXD_RUST) += ridxd/'
	# New kernel crate abstractions (files under rust/kernel/ added by the overlay).
	append_line "$t/rust/kernel/workqueue.rs" 'pub mod owned;'
	append_line "$t/rust/kernel/workqueue.rs" 'pub mod flush;'
	append_line "$t/rust/kernel/workqueue.rs" 'pub mod queues;'
	append_line "$t/rust/kernel/mm.rs" 'pub mod kthread;'
	append_line "$t/rust/kernel/mm.rs" 'pub mod gup;'
	append_line "$t/rust/kernel/mm.rs" 'pub mod pfnmap;'
	append_line "$t/rust/kernel/uaccess.rs" 'pub mod nofault;'
	append_line "$t/rust/kernel/kunit.rs" 'pub mod user;'
	append_line "$t/rust/kernel/miscdevice.rs" 'pub mod data;'
	append_line "$t/rust/kernel/cred.rs" 'pub mod capability;'
	append_line "$t/rust/kernel/iommu/mod.rs" 'pub mod sva;'
	append_line "$t/rust/kernel/io.rs" '#[cfg(CONFIG_X86_64)] pub mod portal;'
	append_line "$t/rust/kernel/device.rs" 'pub mod bound;'
	append_line "$t/rust/kernel/device.rs" 'pub mod bus;'
	append_line "$t/rust/kernel/pci/irq.rs" 'mod threaded;'
	append_line "$t/rust/kernel/sync/lock.rs" 'pub mod static_mutex;'
	append_line "$t/rust/kernel/pci.rs" 'mod user_map;'
	append_line "$t/rust/kernel/pci.rs" 'pub mod dma_mask;'
	append_line "$t/rust/kernel/pci.rs" 'pub mod reset;'
	append_line "$t/rust/kernel/pci.rs" 'mod disable;'
	append_line "$t/rust/kernel/fs.rs" 'pub mod mapping;'
	append_line "$t/rust/kernel/bitmap.rs" 'mod parse;'
	append_line "$t/rust/kernel/module.rs" 'pub mod symbol;'
	append_line "$t/rust/helpers/helpers.c" '#include "io_remap.c"'
}

# overlay_list: the repository's overlay files, relative to the repository root.
overlay_list() {
	(cd "$RIDXD_ROOT" && for d in "${OVERLAY_DIRS[@]}"; do
		[ -e "$d" ] && find "$d" -type f ! -name '*.o' ! -name '*.ko' ! -name '.*.cmd'
	done | LC_ALL=C sort)
}

# apply_overlay TREE [PRISTINE]: PRISTINE (default: the cached pristine tree) is used to check
# that the overlay adds files only.
apply_overlay() {
	local t=$1 pristine=${2:-$SRC_DIR/linux} f
	[ -f "$t/Makefile" ] || die "overlay: $t is not a kernel tree"
	local manifest=$t/.ridxd-overlay-manifest new
	new=$(overlay_list)
	while read -r f; do
		[ -n "$f" ] || continue
		[ -e "$pristine/$f" ] && die "overlay: $f exists in the kernel tree; hook it, don't replace it"
		mkdir -p "$t/$(dirname "$f")"
		cmp -s "$RIDXD_ROOT/$f" "$t/$f" || cp "$RIDXD_ROOT/$f" "$t/$f"
	done <<<"$new"
	if [ -f "$manifest" ]; then
		while read -r f; do
			[ -n "$f" ] || continue
			grep -qxF -- "$f" <<<"$new" || { log "overlay: removing stale $f"; rm -f "$t/$f"; }
		done <"$manifest"
	fi
	printf '%s\n' "$new" >"$manifest"
	overlay_hooks "$t"
}

# The work tree: a copy of the pristine tree (made once), with the overlay applied.
do_tree() {
	[ -f "$SRC_DIR/linux/Makefile" ] || die "no kernel source: run 'ridxd-dev setup' first"
	local ver
	ver=$(cat "$SRC_DIR/VERSION")
	if [ "$(cat "$KSRC/.ridxd-source" 2>/dev/null)" != "$ver" ]; then
		log "copying pristine $ver to $KSRC"
		rm -rf "$KSRC"
		mkdir -p "$KSRC"
		rsync -a "$SRC_DIR/linux/" "$KSRC/"
		echo "$ver" >"$KSRC/.ridxd-source"
	fi
	apply_overlay "$KSRC"
}

# Host check: the hooks apply to pristine copies of the hooked files, twice, and the second
# application changes nothing.
check_overlay_idempotent() {
	local tmp rc=0
	tmp=$(mktemp -d)
	mkdir -p "$tmp/drivers/dma" "$tmp/rust/bindings" "$tmp/rust/kernel/iommu" "$tmp/rust/kernel/pci" \
		"$tmp/rust/kernel/sync" "$tmp/rust/helpers"
	cp "$SRC_DIR/linux/Makefile" "$tmp/"
	cp "$SRC_DIR/linux/rust/bindings/bindings_helper.h" "$tmp/rust/bindings/"
	cp "$SRC_DIR/linux/rust/kernel/"{workqueue,mm,uaccess,kunit,miscdevice,cred,io,device,pci,fs,bitmap,module}.rs "$tmp/rust/kernel/"
	cp "$SRC_DIR/linux/rust/kernel/iommu/mod.rs" "$tmp/rust/kernel/iommu/"
	cp "$SRC_DIR/linux/rust/kernel/pci/irq.rs" "$tmp/rust/kernel/pci/"
	cp "$SRC_DIR/linux/rust/kernel/sync/lock.rs" "$tmp/rust/kernel/sync/"
	cp "$SRC_DIR/linux/rust/helpers/helpers.c" "$tmp/rust/helpers/"
	cp "$SRC_DIR/linux/drivers/dma/Kconfig" "$SRC_DIR/linux/drivers/dma/Makefile" "$tmp/drivers/dma/"
	apply_overlay "$tmp"
	(cd "$tmp" && find . -type f -exec md5sum {} + | sort) >"$tmp.1"
	apply_overlay "$tmp"
	(cd "$tmp" && find . -type f -exec md5sum {} + | sort) >"$tmp.2"
	if ! cmp -s "$tmp.1" "$tmp.2"; then
		echo "overlay: the second application changed the tree" >&2
		diff "$tmp.1" "$tmp.2" >&2 || true
		rc=1
	fi
	rm -rf "$tmp" "$tmp.1" "$tmp.2"
	return $rc
}
