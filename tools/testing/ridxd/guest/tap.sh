# SPDX-License-Identifier: GPL-2.0
# Minimal TAP helpers for the guest scripts (sourced).
TAP_N=0
TAP_FAILED=0
tap_plan() { echo "TAP version 13"; echo "1..$1"; }
# tap_check NAME CMD...: one test point, "ok" when CMD succeeds.
tap_check() {
	name=$1; shift
	TAP_N=$((TAP_N + 1))
	if "$@"; then
		echo "ok $TAP_N $name"
	else
		echo "not ok $TAP_N $name"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}
tap_done() { [ "$TAP_FAILED" -eq 0 ]; }
