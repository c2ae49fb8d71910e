// SPDX-License-Identifier: GPL-2.0

//! KUnit suites that run the driver on model devices, and their shared helpers.
//! (`hw`, `regs`, `fault` and `sim` keep their own suites beside the code they test.)

mod cr_fixup;
mod device;
mod release;
mod sim_probe;
mod sysfs;
pub(crate) mod util;
