// SPDX-License-Identifier: GPL-2.0

//! KUnit: the idxd sysfs ABI on the `dsa` bus (`sysfs.rs`): enabling by binding, idxd's probe
//! checks and their `cmd_status`, attribute formats and write rules, on model devices.

use kernel::prelude::*;

#[kunit_tests(ridxd_sysfs)]
mod tests {
    use crate::{
        regs::off,
        sim::Generation,
        sim_drv::SimInstance,
        sysfs::{read_attr, write_attr},
    };
    use kernel::{prelude::*, str::CString};

    /// What attribute `name` of WQ `wq` of `s` shows.
    fn wq_attr(s: &SimInstance, wq: usize, name: &CStr) -> Result<CString> {
        s.inst().sysfs().with_wq_node(wq, |n| read_attr(n, name))
    }

    fn wq_write(s: &SimInstance, wq: usize, name: &CStr, v: &[u8]) -> Result {
        s.inst()
            .sysfs()
            .with_wq_node(wq, |n| write_attr(n, name, v))
    }

    fn dev_attr(s: &SimInstance, name: &CStr) -> Result<CString> {
        read_attr(s.inst().sysfs().device_node(), name)
    }

    fn is(got: Result<CString>, want: &[u8]) -> bool {
        got.is_ok_and(|g| g.to_bytes() == want)
    }

    /// Whether the disabled device of `s` has forgotten its configuration, as idxd's do
    /// (`idxd_device_clear_state()`): WQs 0 and 1 unconfigured, nameless and of type `none`
    /// (their `driver_name` stays), no engine in a group (whose list is then empty, no newline).
    fn forgotten(s: &SimInstance) -> bool {
        let t = s.inst().sysfs();
        (0..2).all(|w| {
            is(wq_attr(s, w, c"size"), b"0\n")
                && is(wq_attr(s, w, c"group_id"), b"-1\n")
                && is(wq_attr(s, w, c"name"), b"\n")
                && is(wq_attr(s, w, c"type"), b"none\n")
                && is(wq_attr(s, w, c"driver_name"), b"user\n")
                && is(wq_attr(s, w, c"mode"), b"shared\n")
        }) && is(read_attr(t.engine_node(0), c"group_id"), b"-1\n")
            && is(read_attr(t.group_node(0), c"engines"), b"")
    }

    /// Gives the disabled device of `s` the driver's default configuration through its
    /// attributes, as an administrator would after a disable: every engine in group 0, WQ 0
    /// dedicated and WQ 1 shared (threshold 16), 16 entries each, priority 1, both named.
    fn configure_by_hand(s: &SimInstance) -> Result {
        let t = s.inst().sysfs();
        for e in 0..s.inst().dsa().caps().num_engines() {
            write_attr(t.engine_node(e), c"group_id", b"0\n")?;
        }
        for (w, mode) in [(0, &b"dedicated\n"[..]), (1, &b"shared\n"[..])] {
            wq_write(s, w, c"mode", mode)?;
            wq_write(s, w, c"size", b"16\n")?;
            wq_write(s, w, c"priority", b"1\n")?;
            wq_write(s, w, c"group_id", b"0\n")?;
            wq_write(s, w, c"name", b"ridxd\n")?;
        }
        wq_write(s, 1, c"threshold", b"16\n")
    }

    #[test]
    fn default_configuration_binds_the_device_and_its_wqs() -> Result {
        let s = SimInstance::new(300, Generation::Dsa2, true, None)?;
        let t = s.inst().sysfs();
        assert!(t.device_node().is_bound());
        assert!(is(dev_attr(&s, c"state"), b"enabled\n"));
        assert!(t.with_wq_node(0, |n| n.is_bound()));
        assert!(t.with_wq_node(1, |n| n.is_bound()));
        assert!(!t.with_wq_node(2, |n| n.is_bound()));
        assert!(is(wq_attr(&s, 1, c"type"), b"user\n"));
        assert!(is(wq_attr(&s, 1, c"mode"), b"shared\n"));
        assert!(is(wq_attr(&s, 1, c"threshold"), b"16\n"));
        assert!(is(wq_attr(&s, 1, c"state"), b"enabled\n"));
        assert!(is(wq_attr(&s, 2, c"state"), b"disabled\n"));
        assert!(is(wq_attr(&s, 2, c"group_id"), b"-1\n"));
        assert!(is(
            read_attr(t.group_node(0), c"work_queues"),
            b"wq300.0 wq300.1\n"
        ));
        assert!(is(
            read_attr(t.group_node(0), c"engines"),
            b"engine300.0 engine300.1 engine300.2 engine300.3\n"
        ));
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x0\n"));
        Ok(())
    }

    #[test]
    fn a_device_without_configuration_stays_unbound() -> Result {
        let s = SimInstance::new(301, Generation::Dsa2, false, None)?;
        assert!(!s.inst().sysfs().device_node().is_bound());
        assert!(is(dev_attr(&s, c"state"), b"disabled\n"));
        // IDXD_SCMD_WQ_NONE_CONFIGURED.
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x800d0000\n"));
        // Any write clears it.
        write_attr(s.inst().sysfs().device_node(), c"cmd_status", b"0\n")?;
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x0\n"));
        Ok(())
    }

    #[test]
    fn unbinding_the_device_unbinds_its_wqs_first() -> Result {
        let s = SimInstance::new(302, Generation::Dsa2, true, None)?;
        let t = s.inst().sysfs();
        t.device_node().unbind();
        assert!(!t.device_node().is_bound());
        assert!(is(dev_attr(&s, c"state"), b"disabled\n"));
        for w in 0..2 {
            assert!(!t.with_wq_node(w, |n| n.is_bound()));
            assert!(is(wq_attr(&s, w, c"state"), b"disabled\n"));
        }
        // A WQ does not bind while the device is unbound (IDXD_SCMD_DEV_NOT_ENABLED).
        assert_eq!(t.with_wq_node(0, |n| n.attach()), Ok(false));
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x80000020\n"));
        // The device forgot its configuration: it does not bind again until it has one
        // (IDXD_SCMD_WQ_NONE_CONFIGURED).
        assert!(forgotten(&s));
        assert!(is(dev_attr(&s, c"event_log_size"), b"64\n"));
        assert_eq!(t.device_node().attach(), Ok(false));
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x800d0000\n"));
        configure_by_hand(&s)?;
        // Binding the device again enables it; its WQs stay unbound until bound themselves.
        assert_eq!(t.device_node().attach(), Ok(true));
        assert!(is(dev_attr(&s, c"state"), b"enabled\n"));
        assert!(!t.with_wq_node(0, |n| n.is_bound()));
        assert_eq!(t.with_wq_node(0, |n| n.attach()), Ok(true));
        assert!(is(wq_attr(&s, 0, c"state"), b"enabled\n"));
        Ok(())
    }

    #[test]
    fn a_wq_binds_only_with_idxds_checks_passed() -> Result {
        let s = SimInstance::new(303, Generation::Dsa2, true, None)?;
        let t = s.inst().sysfs();
        let attach = |w: usize| t.with_wq_node(w, |n| n.attach());
        // WQ 2: not configured, no driver_name.
        assert_eq!(attach(2), Ok(false));
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x80200000\n"));
        wq_write(&s, 2, c"driver_name", b"user\n")?;
        assert_eq!(attach(2), Ok(false));
        // IDXD_SCMD_WQ_NO_NAME.
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x80040000\n"));
        wq_write(&s, 2, c"name", b"app\n")?;
        assert_eq!(attach(2), Ok(false));
        // IDXD_SCMD_WQ_NO_SIZE.
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x800e0000\n"));
        // The device takes sizes and groups (GRPCFG) at Enable Device: while it is enabled,
        // neither changes.
        assert_eq!(wq_write(&s, 2, c"size", b"8\n"), Err(EPERM));
        assert_eq!(wq_write(&s, 2, c"group_id", b"0\n"), Err(EPERM));
        assert!(is(wq_attr(&s, 2, c"size"), b"0\n"));
        // Each disable forgets the configuration, WQ 2's name with it (configure_by_hand).
        t.device_node().unbind();
        configure_by_hand(&s)?;
        wq_write(&s, 2, c"name", b"app\n")?;
        wq_write(&s, 2, c"size", b"8\n")?;
        wq_write(&s, 2, c"mode", b"shared\n")?;
        assert_eq!(t.device_node().attach(), Ok(true));
        assert_eq!(attach(2), Ok(false));
        // IDXD_SCMD_WQ_NO_GRP.
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x80030000\n"));
        t.device_node().unbind();
        configure_by_hand(&s)?;
        wq_write(&s, 2, c"name", b"app\n")?;
        wq_write(&s, 2, c"size", b"8\n")?;
        wq_write(&s, 2, c"group_id", b"0\n")?;
        assert_eq!(t.device_node().attach(), Ok(true));
        assert_eq!(attach(2), Ok(false));
        // IDXD_SCMD_WQ_NO_THRESH: a shared WQ with threshold 0.
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x80060000\n"));
        // Threshold 0 cannot be written, more than the size neither.
        assert_eq!(wq_write(&s, 2, c"threshold", b"0\n"), Err(EINVAL));
        assert_eq!(wq_write(&s, 2, c"threshold", b"9\n"), Err(EINVAL));
        wq_write(&s, 2, c"threshold", b"8\n")?;
        assert_eq!(attach(2), Ok(true));
        assert!(is(dev_attr(&s, c"cmd_status"), b"0x0\n"));
        assert!(is(wq_attr(&s, 2, c"state"), b"enabled\n"));
        assert!(t.with_wq_node(2, |n| n.is_bound()));
        Ok(())
    }

    #[test]
    fn writes_follow_idxds_rules_and_change_nothing_when_refused() -> Result {
        let s = SimInstance::new(304, Generation::Dsa2, true, None)?;
        let dev = s.inst().sysfs().device_node();
        // While enabled.
        assert_eq!(wq_write(&s, 0, c"prs_disable", b"1\n"), Err(EPERM));
        assert!(is(wq_attr(&s, 0, c"prs_disable"), b"0\n"));
        assert_eq!(write_attr(dev, c"event_log_size", b"128\n"), Err(EPERM));
        assert!(is(dev_attr(&s, c"event_log_size"), b"64\n"));
        assert_eq!(wq_write(&s, 0, c"name", b"x\n"), Err(EPERM));
        assert!(is(wq_attr(&s, 0, c"name"), b"ridxd\n"));
        // Bad input.
        assert_eq!(wq_write(&s, 2, c"size", b"lots\n"), Err(EINVAL));
        s.inst().sysfs().device_node().unbind();
        assert_eq!(wq_write(&s, 2, c"size", b"129\n"), Err(EINVAL));
        assert!(is(wq_attr(&s, 2, c"size"), b"0\n"));
        configure_by_hand(&s)?;
        assert_eq!(s.inst().sysfs().device_node().attach(), Ok(true));
        assert_eq!(s.inst().sysfs().with_wq_node(0, |n| n.attach()), Ok(true));
        assert_eq!(wq_write(&s, 2, c"mode", b"both\n"), Err(EINVAL));
        assert_eq!(wq_write(&s, 2, c"type", b"other\n"), Err(EINVAL));
        assert_eq!(wq_write(&s, 2, c"name", b"\n"), Err(EINVAL));
        assert_eq!(wq_write(&s, 2, c"group_id", b"-2\n"), Err(EINVAL));
        // Read-only attributes.
        assert_eq!(write_attr(dev, c"version", b"0x300\n"), Err(EACCES));
        // cdev_minor only while the WQ has a char device (ENXIO, as idxd).
        assert_eq!(wq_attr(&s, 2, c"cdev_minor").err(), Some(ENXIO));
        assert!(wq_attr(&s, 0, c"cdev_minor").is_ok());
        Ok(())
    }

    /// op_config as idxd's: OPCAP's format, all of OPCAP at first; written only while the WQ
    /// is disabled (`EPERM`), only with operations OPCAP has (`EINVAL`), nothing changed on
    /// bad input. Unbinding the WQ resets what idxd's `idxd_wq_disable_cleanup()` resets
    /// (op_config to all of OPCAP again) and keeps its size and group.
    #[test]
    fn op_config_rules_and_what_a_wq_unbind_resets() -> Result {
        let s = SimInstance::new(307, Generation::Dsa2, true, None)?;
        let t = s.inst().sysfs();
        let opcap = dev_attr(&s, c"op_cap")?;
        assert!(is(wq_attr(&s, 0, c"op_config"), opcap.to_bytes()));
        assert_eq!(wq_write(&s, 0, c"op_config", b"8\n"), Err(EPERM));
        assert_eq!(wq_write(&s, 0, c"mode", b"shared\n"), Err(EPERM));
        t.with_wq_node(0, |n| n.unbind());
        assert!(is(wq_attr(&s, 0, c"state"), b"disabled\n"));
        for (a, v) in [
            (c"mode", &b"shared\n"[..]),
            (c"priority", b"0\n"),
            (c"name", b"\n"),
            (c"type", b"none\n"),
            (c"size", b"16\n"),
            (c"group_id", b"0\n"),
            (c"driver_name", b"user\n"),
        ] {
            assert!(is(wq_attr(&s, 0, a), v));
        }
        wq_write(&s, 0, c"op_config", b"8\n")?;
        let memmove_only =
            b"00000000,00000000,00000000,00000000,00000000,00000000,00000000,00000008\n";
        assert!(is(wq_attr(&s, 0, c"op_config"), memmove_only));
        assert_eq!(wq_write(&s, 0, c"op_config", b"100\n"), Err(EINVAL));
        assert_eq!(wq_write(&s, 0, c"op_config", b"8x\n"), Err(EINVAL));
        assert_eq!(
            wq_write(&s, 0, c"op_config", b"1,0,0,0,0,0,0,0,0\n"),
            Err(EOVERFLOW)
        );
        assert!(is(wq_attr(&s, 0, c"op_config"), memmove_only));
        wq_write(&s, 0, c"op_config", b"00000000,00000008\n")?;
        assert!(is(wq_attr(&s, 0, c"op_config"), memmove_only));
        // Bound again (dedicated, named): OPCFG as written.
        wq_write(&s, 0, c"mode", b"dedicated\n")?;
        wq_write(&s, 0, c"name", b"app\n")?;
        assert_eq!(t.with_wq_node(0, |n| n.attach()), Ok(true));
        let dsa = s.inst().dsa();
        assert_eq!(dsa.io().read32(dsa.caps().wqcfg_offset(0, 8)), 8);
        t.with_wq_node(0, |n| n.unbind());
        assert!(is(wq_attr(&s, 0, c"op_config"), opcap.to_bytes()));
        // DSA 1.0: no op_config.
        let s1 = SimInstance::new(308, Generation::Dsa1, true, None)?;
        assert_eq!(wq_attr(&s1, 0, c"op_config").err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn capabilities_in_idxds_formats() -> Result {
        let s = SimInstance::new(305, Generation::Dsa1, true, None)?;
        let io = s.inst().dsa().io();
        assert!(is(dev_attr(&s, c"version"), b"0x100\n"));
        assert!(is(dev_attr(&s, c"max_work_queues"), b"8\n"));
        let gencap = io.read64(off::GENCAP);
        let want = CString::try_from_fmt(fmt!("{gencap:#x}\n"))?;
        assert!(is(dev_attr(&s, c"gen_cap"), want.to_bytes()));
        // OPCAP as `%*pb` of 256 bits: 32-bit words in hex, most significant first; without
        // BATCH (opcode 1) on DSA 1.0, whose write() refuses batches (idxd's
        // `op_cap_show_common()`).
        let mut q: [u64; 4] = [0, 8, 16, 24].map(|o| io.read64(off::OPCAP + o));
        assert!(q[0] & 0b10 != 0);
        q[0] &= !0b10;
        let want = CString::try_from_fmt(fmt!(
            "{:08x},{:08x},{:08x},{:08x},{:08x},{:08x},{:08x},{:08x}\n",
            q[3] >> 32,
            q[3] & 0xffff_ffff,
            q[2] >> 32,
            q[2] & 0xffff_ffff,
            q[1] >> 32,
            q[1] & 0xffff_ffff,
            q[0] >> 32,
            q[0] & 0xffff_ffff
        ))?;
        assert!(is(dev_attr(&s, c"op_cap"), want.to_bytes()));
        assert!(q[0] != 0);
        // DSA 1.0: no event log, no per-WQ PRS disable.
        assert_eq!(dev_attr(&s, c"event_log_size").err(), Some(ENOENT));
        assert_eq!(wq_attr(&s, 0, c"prs_disable").err(), Some(ENOENT));
        Ok(())
    }

    #[test]
    fn group_flags_with_idxds_defaults_and_rules_reach_grpcfg() -> Result {
        let s = SimInstance::new(306, Generation::Dsa2, true, None)?;
        let t = s.inst().sysfs();
        let g0 = t.group_node(0);
        let total = s.inst().dsa().caps().grpcap.total_rdbufs().get();
        let want = CString::try_from_fmt(fmt!("{total}\n"))?;
        assert!(is(read_attr(g0, c"read_buffers_allowed"), want.to_bytes()));
        assert!(is(read_attr(g0, c"traffic_class_a"), b"1\n"));
        assert!(is(read_attr(g0, c"traffic_class_b"), b"1\n"));
        // While enabled: EPERM, as idxd.
        assert_eq!(write_attr(g0, c"read_buffers_reserved", b"1\n"), Err(EPERM));
        t.device_node().unbind();
        configure_by_hand(&s)?;
        // Traffic classes are fixed on DSA 1.0/2.0; no device read-buffer limit.
        assert_eq!(write_attr(g0, c"traffic_class_a", b"2\n"), Err(EPERM));
        assert_eq!(write_attr(g0, c"use_read_buffer_limit", b"1\n"), Err(EPERM));
        // Group 0 has the 4 engines: at least 16 read buffers allowed.
        assert_eq!(
            write_attr(g0, c"read_buffers_allowed", b"15\n"),
            Err(EINVAL)
        );
        assert_eq!(
            write_attr(g0, c"read_buffers_reserved", b"1000\n"),
            Err(EINVAL)
        );
        write_attr(g0, c"read_buffers_reserved", b"2\n")?;
        write_attr(g0, c"read_buffers_allowed", b"16\n")?;
        // Enabling programs GRPCFG's flags: tc_a 1, tc_b 1 << 3, reserved 2 << 8, allowed
        // 16 << 20 [`union group_flags`].
        assert_eq!(t.device_node().attach(), Ok(true));
        let p = s.model().personality();
        let flags = s.model().read64(p.grpcfg_offset() + 40);
        assert_eq!(flags, 1 | 1 << 3 | 2 << 8 | 16 << 20);
        // With tc_override (idxd's parameter): not set at first (-1), then 0..=7; one not set
        // is programmed (and then shown) as idxd does: 0 for class A, 1 for class B.
        t.device_node().unbind();
        configure_by_hand(&s)?;
        s.inst().dsa().with_config(|c| c.set_tc_override(true));
        assert!(is(read_attr(g0, c"traffic_class_b"), b"-1\n"));
        assert_eq!(write_attr(g0, c"traffic_class_a", b"8\n"), Err(EINVAL));
        write_attr(g0, c"traffic_class_a", b"5\n")?;
        assert!(is(read_attr(g0, c"traffic_class_a"), b"5\n"));
        assert_eq!(t.device_node().attach(), Ok(true));
        let flags = s.model().read64(p.grpcfg_offset() + 40);
        assert_eq!(flags & 0x3f, 5 | 1 << 3);
        assert!(is(read_attr(g0, c"traffic_class_b"), b"1\n"));
        assert!(is(read_attr(t.group_node(1), c"traffic_class_a"), b"0\n"));
        assert_eq!(write_attr(g0, c"traffic_class_b", b"2\n"), Err(EPERM));
        Ok(())
    }
}
