#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ridxd's KUnit suites in the debug guest (lockdep, KASAN, kmemleak). The kernel was booted
# with kunit.enable=1: the built-in suites (the kernel crate's doctests) ran at boot, and
# ridxd's suites run when its module loads (KUnit runs a module's suites from the module
# notifier, before insmod returns: lib/kunit/test.c). Their KTAP goes to the console, where
# the host reads it with tools/testing/kunit/kunit.py parse, as kunit.py reads its own QEMU
# runs. The module is unloaded afterwards, so that the init script's kmemleak scan also sees
# what the suites left behind.
insmod "$RIDXD_KO" || exit 1
rmmod "$RIDXD_MOD"
