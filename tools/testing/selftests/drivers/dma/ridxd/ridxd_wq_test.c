// SPDX-License-Identifier: GPL-2.0
/*
 * ridxd user work queues: submission through write(), completion records written by the
 * device or, after a CR page fault with PRS disabled, by the driver; poll() and mmap() of a
 * WQ file, and the per-file counters in debugfs (wq<M>/file<K>/).
 *
 * Expects ridxd loaded with a DSA 2.0 model device as dsa1 (sim_dsa1=1 sim_dsa2=1) in the
 * default configuration: wq1.0 dedicated, wq1.1 shared. RIDXD_DEV overrides "1".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/idxd.h>
#include <linux/fuse.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "ridxd_attr.h"

#include "../../../kselftest_harness.h"

#define DBG RIDXD_DEBUGFS

static const char *dev_index(void)
{
	const char *d = getenv("RIDXD_DEV");

	return d ? d : "1";
}

static int wq_open(int wq)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/dsa/wq%s.%d", dev_index(), wq);
	return open(path, O_RDWR);
}

/*
 * Writes VAL to attribute REL of device DEV (ridxd_attr_write()). Binding WQ 0 or 1
 * ("wq<W>/enable" "1") first gives it again what unbinding it reset, as idxd's
 * idxd_wq_disable_cleanup() does (all but size, group and driver_name): the default
 * configuration's mode, priority, name and, for the shared WQ 1, threshold (writes refused
 * because the WQ is enabled are ignored; the bind then says so). Its flags (block_on_fault,
 * prs_disable) are the caller's to set before binding.
 */
static int attr_write_dev(const char *dev, const char *rel, const char *val)
{
	static const char *const again[2][4][2] = {
		{ { "mode", "dedicated" }, { "priority", "1" }, { "name", "ridxd" } },
		{ { "mode", "shared" }, { "priority", "1" }, { "name", "ridxd" },
		  { "threshold", "16" } },
	};
	char r[32];
	int wq, n = 0;

	if (sscanf(rel, "wq%d/%n", &wq, &n) == 1 && n && !strcmp(rel + n, "enable") &&
	    !strcmp(val, "1") && (wq == 0 || wq == 1)) {
		for (int i = 0; i < 4 && again[wq][i][0]; i++) {
			snprintf(r, sizeof(r), "wq%d/%s", wq, again[wq][i][0]);
			ridxd_attr_write(dev, r, again[wq][i][1]);
		}
	}
	return ridxd_attr_write(dev, rel, val);
}

/* attr_write_dev() on the device under test. */
static int attr_write(const char *rel, const char *val)
{
	return attr_write_dev(dev_index(), rel, val);
}

/*
 * Whether the device is one of ridxd's model devices (its debugfs "device" names the faux
 * device ridxd_sim<N>), not a PCI function (its "device" is the PCI address).
 */
static int model_device(void)
{
	char bus[64];

	if (ridxd_attr_read_str(dev_index(), "device", bus, sizeof(bus)))
		return 0;
	return !strncmp(bus, "ridxd_sim", 9);
}

/*
 * Whether shared WQs can be used: write() submits to them with ENQCMDS, so ridxd (as idxd)
 * enables none where the CPU has no ENQCMD (TCG, for one); the model devices take them
 * anyway (their portals are not the CPU's).
 */
static int shared_wqs_usable(void)
{
	char line[4096];
	int found = 0;
	FILE *f;

	if (model_device())
		return 1;
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "flags", 5) && strstr(line, " enqcmd");
	fclose(f);
	return found;
}

/*
 * Whether a page fault with PRS on is resolved by a page request: the model device resolves
 * it itself; a PCI device needs the PCIe Page Request Interface, extended capability 0x13
 * (PCIe base specification, "Page Request Extended Capability"), which the project's QEMU
 * device does not have.
 */
static int prs_resolves_faults(void)
{
	unsigned char cfg[4096];
	char bus[64], path[128];
	unsigned int off = 0x100;
	ssize_t n;
	int fd;

	if (model_device())
		return 1;
	if (ridxd_attr_read_str(dev_index(), "device", bus, sizeof(bus)))
		return 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bus);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, cfg, sizeof(cfg));
	close(fd);
	for (int hops = 0; n == sizeof(cfg) && off >= 0x100 && off <= 0xffc && hops < 64; hops++) {
		uint32_t h = cfg[off] | cfg[off + 1] << 8 | cfg[off + 2] << 16 |
			     (uint32_t)cfg[off + 3] << 24;

		if ((h & 0xffff) == 0x13)
			return 1;
		off = h >> 20;
	}
	return 0;
}

static long attr_read(const char *rel)
{
	return ridxd_attr_read(dev_index(), rel);
}

/* Waits for a completion record's status to turn non-zero; returns it (0 on timeout). */
static uint8_t wait_cr(volatile struct dsa_completion_record *cr)
{
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 5000; i++) {
		if (cr->status)
			return cr->status;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void memmove_desc(struct dsa_hw_desc *d, void *src, void *dst, uint32_t len, void *cr)
{
	memset(d, 0, sizeof(*d));
	d->opcode = DSA_OPCODE_MEMMOVE;
	d->flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	d->src_addr = (uintptr_t)src;
	d->dst_addr = (uintptr_t)dst;
	d->xfer_size = len;
	d->completion_addr = (uintptr_t)cr;
}

static void *map_pages(int n)
{
	void *p = mmap(NULL, n * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A page no access reaches: neither the device, nor the driver's CR fix-up. */
static void *map_none(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A page shared with forked children, for their results; every int starts at -1. */
static int *map_results(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0xff, 4096);
	return p;
}

/* A child's exit status, -1 if it did not exit (killed). */
static int child_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void noop_desc(struct dsa_hw_desc *d, void *cr)
{
	memset(d, 0, sizeof(*d));
	d->opcode = DSA_OPCODE_NOOP;
	d->flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	d->completion_addr = (uintptr_t)cr;
}

/* A batch of N descriptors at LIST (desc_list_addr, desc_count alias src_addr, xfer_size). */
static void batch_desc(struct dsa_hw_desc *b, void *list, uint32_t n, void *cr)
{
	memset(b, 0, sizeof(*b));
	b->opcode = DSA_OPCODE_BATCH;
	b->flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	b->desc_list_addr = (uintptr_t)list;
	b->desc_count = n;
	b->completion_addr = (uintptr_t)cr;
}

/*
 * The batch cases' list at LIST: a LEN-byte memmove SRC -> DST with its CR at MCR, then a
 * no-op with its CR at NCR.
 */
static void memmove_noop_list(struct dsa_hw_desc *list, void *src, void *dst, uint32_t len,
			      void *mcr, void *ncr)
{
	memmove_desc(&list[0], src, dst, len, mcr);
	noop_desc(&list[1], ncr);
}

static void fill_bytes(char *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + seed);
}

/* Index of the first byte where A and B differ; -1 if none. */
static long first_diff(const void *a, const void *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)a)[i] != ((const uint8_t *)b)[i])
			return i;
	return -1;
}

/* Index of the first byte of P that is not C; -1 if none. */
static long first_not(const void *p, int c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const uint8_t *)p)[i] != (uint8_t)c)
			return i;
	return -1;
}

/* Attribute NAME of WQ WQ, or of its open file FILE if FILE >= 0: wq<WQ>[/file<FILE>]/NAME. */
static long wq_attr(int wq, int file, const char *name)
{
	char rel[64];

	if (file < 0)
		snprintf(rel, sizeof(rel), "wq%d/%s", wq, name);
	else
		snprintf(rel, sizeof(rel), "wq%d/file%d/%s", wq, file, name);
	return attr_read(rel);
}

/*
 * Waits (5 s at most) for wq_attr() to read WANT; returns the last value read. The driver
 * counts a CR after writing it, so a counter may lag the CR's status byte.
 */
static long wq_attr_wait(int wq, int file, const char *name, long want)
{
	struct timespec ts = { 0, 1000000 };
	long v = -1;

	for (int i = 0; i < 5000; i++) {
		v = wq_attr(wq, file, name);
		if (v == want)
			break;
		nanosleep(&ts, NULL);
	}
	return v;
}

/* The ids of WQ WQ's open files whose pid is PID (see ridxd_file_ids()). */
static int file_ids(int wq, pid_t pid, int *ids, int max)
{
	return ridxd_file_ids(dev_index(), wq, pid, ids, max);
}

/* The id of the one open file of WQ WQ that PID has; -1 if it has none, or several. */
static int file_id(int wq, pid_t pid)
{
	int k;

	return file_ids(wq, pid, &k, 1) == 1 ? k : -1;
}

/* Maps LEN bytes of the WQ file FD as a portal would be: 0 (unmapped again), or the errno. */
static int mmap_errno(int fd, size_t len)
{
	void *p = mmap(NULL, len, PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return errno;
	munmap(p, len);
	return 0;
}

/* Whether CAP is in the effective set; -1 if it cannot be told. */
static int has_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -1;
	return !!(d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap));
}

/* Removes CAP from the effective set (it stays permitted); 0 or -1. */
static int drop_cap(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	if (syscall(SYS_capset, &h, d))
		return -1;
	return has_cap(cap) == 0 ? 0 : -1;
}

/*
 * Gives the disabled device the driver's default configuration again (config.rs,
 * set_default: every engine in group 0, WQ 0 dedicated and WQ 1 shared, 16 entries each;
 * no shared WQ where shared WQs cannot be used): a disabled device has forgotten its
 * configuration, as idxd's devices do. 0, or the first negative errno.
 */
static int default_config(void)
{
	static const char *const wq_attrs[][2] = {
		{ "wq0/mode", "dedicated" }, { "wq0/priority", "1" }, { "wq0/size", "16" },
		{ "wq0/group_id", "0" }, { "wq0/driver_name", "user" }, { "wq0/name", "ridxd" },
		{ "wq1/mode", "shared" }, { "wq1/priority", "1" }, { "wq1/size", "16" },
		{ "wq1/threshold", "16" }, { "wq1/group_id", "0" }, { "wq1/driver_name", "user" },
		{ "wq1/name", "ridxd" },
	};
	long engines = attr_read("max_engines");
	char path[160];
	int rc;

	for (long e = 0; e < engines; e++) {
		snprintf(path, sizeof(path), RIDXD_SYSFS "/devices/engine%s.%ld/group_id",
			 dev_index(), e);
		rc = ridxd_write_file(path, "0");
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sizeof(wq_attrs) / sizeof(wq_attrs[0]); i++) {
		if (!strncmp(wq_attrs[i][0], "wq1/", 4) && !shared_wqs_usable())
			continue;
		rc = attr_write(wq_attrs[i][0], wq_attrs[i][1]);
		if (rc)
			return rc;
	}
	return engines > 0 ? 0 : -EINVAL;
}

static void enable_wqs(void)
{
	attr_write("wq0/enable", "1");
	attr_write("wq1/enable", "1");
}

FIXTURE(wq) {
	int fd;
	char *buf;
};

FIXTURE_VARIANT(wq) {
	int wq;
	int prs_disable;
};

FIXTURE_VARIANT_ADD(wq, dedicated) { .wq = 0, .prs_disable = 0 };
FIXTURE_VARIANT_ADD(wq, shared) { .wq = 1, .prs_disable = 0 };
FIXTURE_VARIANT_ADD(wq, dedicated_prs_off) { .wq = 0, .prs_disable = 1 };
FIXTURE_VARIANT_ADD(wq, shared_prs_off) { .wq = 1, .prs_disable = 1 };

static int has_attr(const char *rel)
{
	char path[160];
	struct stat st;

	ridxd_attr_path(dev_index(), rel, path, sizeof(path));
	return stat(path, &st) == 0;
}

/* The device's VERSION register: 0x100 for DSA 1.0, 0x200 for DSA 2.0; -1 if unknown. */
static long dsa_version(void)
{
	char buf[32];

	if (ridxd_attr_read_str(dev_index(), "version", buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 0);
}

/*
 * Whether the device takes batches from user space: DSA 1.0 parts (INTEL-SA-01084) do not,
 * write() refuses them (EINVAL) as idxd does, for the driver cannot check the descriptors a
 * batch points to.
 */
static int user_batches(void)
{
	return dsa_version() != 0x100;
}

FIXTURE_SETUP(wq)
{
	char rel[32];

	/* DSA 1.0 has no PRS disable: the attribute is absent, the PRS-off cases do not apply. */
	snprintf(rel, sizeof(rel), "wq%d/prs_disable", variant->wq);
	if (!has_attr(rel) && variant->prs_disable)
		SKIP(return, "no per-WQ PRS disable on this device");
	if (variant->wq == 1 && !shared_wqs_usable())
		SKIP(return, "shared WQs need ENQCMD, which this CPU does not have");
	if (!variant->prs_disable && !prs_resolves_faults())
		SKIP(return, "PRS on needs the device's PRI capability, which it does not have");

	/* prs_disable can change only while the WQ is disabled (it may be already). */
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	attr_write(rel, "0");
	snprintf(rel, sizeof(rel), "wq%d/prs_disable", variant->wq);
	if (has_attr(rel))
		ASSERT_EQ(0, attr_write(rel, variant->prs_disable ? "1" : "0"));
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	ASSERT_EQ(0, attr_write(rel, "1"));
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd) TH_LOG("open wq%d: %s", variant->wq, strerror(errno));
	self->buf = map_pages(8);
	ASSERT_NE(NULL, self->buf);
	/*
	 * Pages 0-3 hold data and present CRs: touch them. With PRS off a data buffer that is
	 * not present ends a descriptor in partial completion (the driver fixes CRs only).
	 * Pages 5 and 6 stay absent for the CR fault cases.
	 */
	memset(self->buf, 0, 4 * 4096);
}

FIXTURE_TEARDOWN(wq)
{
	if (self->buf) {
		close(self->fd);
		munmap(self->buf, 8 * 4096);
	}
}

/* Fill, compare (equal and different), compare-pattern and no-op, byte by byte. */
TEST_F(wq, fill_compare_noop)
{
	struct dsa_hw_desc d;
	char *a = self->buf, *b = self->buf + 4096;
	volatile struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	const uint64_t pat = 0x0102030405060708ULL;

	memset(&d, 0, sizeof(d));
	d.opcode = DSA_OPCODE_MEMFILL;
	d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	d.pattern = pat;
	d.dst_addr = (uintptr_t)a;
	d.xfer_size = 1000;
	d.completion_addr = (uintptr_t)cr;
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	int i;

	for (i = 0; i < 1000; i++)
		ASSERT_EQ(((uint8_t *)&pat)[i % 8], (uint8_t)a[i]) TH_LOG("byte %d", i);

	memcpy(b, a, 1000);
	d.opcode = DSA_OPCODE_COMPARE;
	d.src_addr = (uintptr_t)a;
	d.src2_addr = (uintptr_t)b;
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	EXPECT_EQ(0, cr->result);
	b[777] ^= 1;
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	EXPECT_EQ(1, cr->result);
	EXPECT_EQ(777, cr->bytes_completed);

	d.opcode = DSA_OPCODE_COMPVAL;
	d.comp_pattern = pat;
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	EXPECT_EQ(0, cr->result);

	noop_desc(&d, (void *)cr);
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
}

/*
 * Batches: accel-config's event-log cases (the C driver's drivers/dma/idxd/irq.c rules). The
 * fixture's pages: 0 the descriptor list, 1 source, 2 destination, 3 present CRs (batch at
 * +0, memmove at +32, no-op at +64), 5 never touched. The CR counters are the WQ's (the sums
 * over its open files: this test's only).
 */

/* DSA 1.0: a batch descriptor never reaches the device. */
TEST_F(wq, batch_refused_on_dsa1)
{
	struct dsa_hw_desc *list = (void *)self->buf, b;
	char *crs = self->buf + 3 * 4096;

	if (user_batches())
		SKIP(return, "batches from user space are taken");
	memmove_noop_list(list, self->buf + 4096, self->buf + 2 * 4096, 64, crs + 32, crs + 64);
	batch_desc(&b, list, 2, crs);
	EXPECT_EQ(-1, write(self->fd, &b, sizeof(b)));
	EXPECT_EQ(EINVAL, errno);
	usleep(100000);
	ASSERT_EQ(-1, first_not(crs, 0, 4096));
	ASSERT_EQ(-1, first_not(self->buf + 2 * 4096, 0, 4096));
}

/* 1a.0: a sub-descriptor's CR in a never-touched page; with PRS off the driver writes it. */
TEST_F(wq, batch_sub_cr_fault_fixed)
{
	struct dsa_hw_desc *list = (void *)self->buf, b;
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *crs = self->buf + 3 * 4096;
	volatile struct dsa_completion_record *bcr = (void *)crs, *ncr = (void *)(crs + 64);
	volatile struct dsa_completion_record *mcr = (void *)(self->buf + 5 * 4096);
	long faults0 = wq_attr(variant->wq, -1, "cr_faults");
	long fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	/* PRS off: the sub-descriptor's CR (CRA_XLAT) and the batch's (BATCH_EVL_ERR). */
	long want = faults0 + (variant->prs_disable ? 2 : 0);

	if (!user_batches())
		SKIP(return, "DSA 1.0: no batches from user space");
	fill_bytes(src, 4096, 1);
	memmove_noop_list(list, src, dst, 256, (void *)mcr, (void *)ncr);
	batch_desc(&b, list, 2, (void *)bcr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(bcr));
	EXPECT_EQ(0, bcr->result);
	EXPECT_EQ(2, bcr->bytes_completed); /* descs_completed in newer uapi headers */
	/* The driver writes the sub-descriptor's CR before the batch's. */
	/* bytes_completed counts only in a partial completion (accel-config's test/dsa.c). */
	ASSERT_EQ(DSA_COMP_SUCCESS, mcr->status);
	EXPECT_EQ(DSA_COMP_SUCCESS, ncr->status);
	ASSERT_EQ(-1, first_diff(src, dst, 256));
	ASSERT_EQ(-1, first_not(dst + 256, 0, 4096 - 256));
	EXPECT_EQ(want, wq_attr_wait(variant->wq, -1, "cr_faults", want));
	EXPECT_EQ(fails0, wq_attr(variant->wq, -1, "cr_fault_failures"));
}

/*
 * 1a.1: a sub-descriptor's CR that cannot be written (PROT_NONE, PRS off): the batch's CR says
 * batch-fail with result 1, and the next batch of the same process is not reported failed.
 */
TEST_F(wq, batch_sub_cr_unwritable)
{
	struct dsa_hw_desc *list = (void *)self->buf, b;
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *crs = self->buf + 3 * 4096;
	volatile struct dsa_completion_record *bcr = (void *)crs, *ncr = (void *)(crs + 64);
	char *none;
	long fails0;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: the device, not the driver, handles the CR fault");
	none = map_none();
	ASSERT_NE(NULL, none);
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	fill_bytes(src, 4096, 2);
	memmove_noop_list(list, src, dst, 512, none, (void *)ncr);
	batch_desc(&b, list, 2, (void *)bcr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_BATCH_FAIL, wait_cr(bcr));
	EXPECT_EQ(1, bcr->result);
	EXPECT_EQ(2, bcr->bytes_completed);
	EXPECT_EQ(DSA_COMP_SUCCESS, ncr->status);
	/* Only the record was lost: the copy itself ran. */
	ASSERT_EQ(-1, first_diff(src, dst, 512));
	ASSERT_EQ(-1, first_not(dst + 512, 0, 4096 - 512));
	EXPECT_EQ(fails0 + 1, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 1));
	/* (What cr_faults counts here: unwritable_records_count_as_failures.) */

	/* The per-batch failure flag was reset: the same batch with a present CR succeeds. */
	memset(crs, 0, 128);
	memset(dst, 0, 4096);
	memmove_noop_list(list, src, dst, 512, crs + 32, (void *)ncr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(bcr));
	EXPECT_EQ(0, bcr->result);
	EXPECT_EQ(DSA_COMP_SUCCESS, ((struct dsa_completion_record *)(crs + 32))->status);
	ASSERT_EQ(-1, first_diff(src, dst, 512));
	EXPECT_EQ(fails0 + 1, wq_attr(variant->wq, -1, "cr_fault_failures"));
	munmap(none, 4096);
}

/* The batch descriptor's own CR in a never-touched page; its sub-descriptors' CRs present. */
TEST_F(wq, batch_own_cr_fault_fixed)
{
	struct dsa_hw_desc *list = (void *)self->buf, b;
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *crs = self->buf + 3 * 4096;
	volatile struct dsa_completion_record *mcr = (void *)(crs + 32), *ncr = (void *)(crs + 64);
	volatile struct dsa_completion_record *bcr = (void *)(self->buf + 5 * 4096);
	long faults0 = wq_attr(variant->wq, -1, "cr_faults");
	long fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	/* PRS off: the batch's CR only (BATCH_EVL_ERR); the device wrote the others. */
	long want = faults0 + (variant->prs_disable ? 1 : 0);

	if (!user_batches())
		SKIP(return, "DSA 1.0: no batches from user space");
	fill_bytes(src, 4096, 3);
	memmove_noop_list(list, src, dst, 4096, (void *)mcr, (void *)ncr);
	batch_desc(&b, list, 2, (void *)bcr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(bcr));
	EXPECT_EQ(0, bcr->result);
	EXPECT_EQ(2, bcr->bytes_completed);
	ASSERT_EQ(DSA_COMP_SUCCESS, mcr->status);
	EXPECT_EQ(DSA_COMP_SUCCESS, ncr->status);
	ASSERT_EQ(-1, first_diff(src, dst, 4096));
	EXPECT_EQ(want, wq_attr_wait(variant->wq, -1, "cr_faults", want));
	EXPECT_EQ(fails0, wq_attr(variant->wq, -1, "cr_fault_failures"));
}

/*
 * 6a: the descriptor list is not readable (PROT_NONE): the batch's CR reports a batch page
 * fault at the list, no sub-descriptor ran, and the WQ keeps working.
 */
TEST_F(wq, batch_list_unreadable)
{
	struct dsa_hw_desc b, d;
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *crs = self->buf + 3 * 4096;
	volatile struct dsa_completion_record *bcr = (void *)crs, *mcr = (void *)(crs + 32);
	long faults0 = wq_attr(variant->wq, -1, "cr_faults");
	long fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	char *none;

	if (!user_batches())
		SKIP(return, "DSA 1.0: no batches from user space");
	none = map_none();
	ASSERT_NE(NULL, none);
	fill_bytes(src, 4096, 4);
	/* PRS on, the page request for a PROT_NONE page fails: the device reports it too. */
	batch_desc(&b, none, 2, (void *)bcr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_BATCH_PAGE_FAULT, wait_cr(bcr));
	EXPECT_EQ((uintptr_t)none, bcr->fault_addr);
	EXPECT_EQ(0, bcr->bytes_completed);
	/* Nothing else was written; the driver had nothing to fix. */
	ASSERT_EQ(-1, first_not(crs + 32, 0, 4096 - 32));
	ASSERT_EQ(-1, first_not(dst, 0, 4096));
	EXPECT_EQ(faults0, wq_attr(variant->wq, -1, "cr_faults"));
	EXPECT_EQ(fails0, wq_attr(variant->wq, -1, "cr_fault_failures"));

	memmove_desc(&d, src, dst, 4096, (void *)mcr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(mcr));
	ASSERT_EQ(-1, first_diff(src, dst, 4096));
	munmap(none, 4096);
}

/*
 * What the counters count when a CR cannot be written (PRS off). ridxd's cr_faults counts the
 * records the driver wrote, cr_fault_failures those it could not write (see
 * Documentation/ABI/testing/debugfs-driver-ridxd). idxd counts every CRA_XLAT and
 * BATCH_EVL_ERR entry in cr_faults, written or not; ridxd does not.
 */
/*
 * A CR in a MAP_SHARED tmpfs mapping, in the page past the file's end: the process itself
 * would get SIGBUS there. The driver's fix-up cannot fault it in either: one failure, no
 * record counted, the file neither grown nor written; and a CR in the file's own page works.
 */
TEST_F(wq, cr_past_eof_of_shared_tmpfs)
{
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *map;
	struct dsa_completion_record rec;
	struct dsa_hw_desc d;
	struct stat st;
	long faults0, fails0;
	int mfd;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fault reaches the driver");
	mfd = memfd_create("ridxd-cr", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 4096));
	map = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	faults0 = wq_attr(variant->wq, -1, "cr_faults");
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");

	memmove_desc(&d, src, dst, 64, map + 4096);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(fails0 + 1, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 1));
	EXPECT_EQ(faults0, wq_attr(variant->wq, -1, "cr_faults"));
	ASSERT_EQ(0, fstat(mfd, &st));
	EXPECT_EQ(4096, st.st_size);

	/*
	 * The file's own page, never touched: the driver writes that CR (into the page cache).
	 * The record is read with pread(), not through the mapping: a read fault would map the
	 * shared page writable, and the device would then write the CR itself.
	 */
	memmove_desc(&d, src, dst, 64, map);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(faults0 + 1, wq_attr_wait(variant->wq, -1, "cr_faults", faults0 + 1));
	ASSERT_EQ(sizeof(rec), pread(mfd, &rec, sizeof(rec), 0));
	EXPECT_EQ(DSA_COMP_SUCCESS, rec.status);
	munmap(map, 2 * 4096);
	close(mfd);
}

/*
 * A CR in a present page the process may only read (PROT_READ after it was filled): the
 * device's write faults, the fix-up must not write it either. One failure, no fix-up counted,
 * the page unchanged.
 */
TEST_F(wq, read_only_cr_page_counts_as_failure)
{
	char *ro, *src = self->buf + 4096, *dst = self->buf + 2 * 4096;
	long faults0, fails0;
	struct dsa_hw_desc d;
	int bad = 0;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fault reaches the driver");
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memset(ro, 0x5a, 4096);
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	faults0 = wq_attr(variant->wq, -1, "cr_faults");
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	memmove_desc(&d, src, dst, 64, ro + 64);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(fails0 + 1, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 1));
	EXPECT_EQ(faults0, wq_attr(variant->wq, -1, "cr_faults"));
	for (int i = 0; i < 4096; i++)
		bad += ro[i] != 0x5a;
	EXPECT_EQ(0, bad);
	munmap(ro, 4096);
}

TEST_F(wq, unwritable_records_count_as_failures)
{
	struct dsa_hw_desc *list = (void *)self->buf, b, d;
	char *src = self->buf + 4096, *dst = self->buf + 2 * 4096, *crs = self->buf + 3 * 4096;
	volatile struct dsa_completion_record *bcr = (void *)crs;
	char *none;
	long faults0, fails0;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fault reaches the driver");
	if (!user_batches())
		SKIP(return, "DSA 1.0: no batches from user space, no PRS disable");
	none = map_none();
	ASSERT_NE(NULL, none);
	faults0 = wq_attr(variant->wq, -1, "cr_faults");
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");

	/* A plain descriptor whose CR cannot be written: one failure, nothing written. */
	memmove_desc(&d, src, dst, 64, none);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(fails0 + 1, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 1));
	EXPECT_EQ(faults0, wq_attr(variant->wq, -1, "cr_faults"));

	/*
	 * A batch whose sub-descriptor's CR cannot be written: that record fails; the batch's own
	 * record follows it through the event log and is written (batch-fail).
	 */
	memmove_noop_list(list, src, dst, 64, none, crs + 64);
	batch_desc(&b, list, 2, (void *)bcr);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_BATCH_FAIL, wait_cr(bcr));
	EXPECT_EQ(fails0 + 2, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 2));
	EXPECT_EQ(faults0 + 1, wq_attr_wait(variant->wq, -1, "cr_faults", faults0 + 1));
	munmap(none, 4096);
}

/* With PRS off, a destination page that is not present gives a partial completion. */
TEST_F(wq, data_fault_is_partial_with_prs_off)
{
	struct dsa_hw_desc d;
	char *absent = self->buf + 7 * 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);

	if (!variant->prs_disable)
		SKIP(return, "PRS on: the fault is resolved");
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, self->buf, absent, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_PAGE_FAULT_NOBOF | DSA_COMP_STATUS_WRITE, wait_cr(cr));
	EXPECT_EQ(0, cr->bytes_completed);
	EXPECT_EQ((uintptr_t)absent, cr->fault_addr);
}

/*
 * Sets WQ WQ's block_on_fault to VAL ("0" or "1"), which changes only while the WQ is
 * disabled: the WQ is disabled (revoking its open files), set, and enabled again. 0, or the
 * first negative errno.
 */
static int set_block_on_fault(int wq, const char *val)
{
	char rel[32];
	int rc;

	snprintf(rel, sizeof(rel), "wq%d/enable", wq);
	rc = attr_write(rel, "0");
	if (rc)
		return rc;
	snprintf(rel, sizeof(rel), "wq%d/block_on_fault", wq);
	rc = attr_write(rel, val);
	if (rc)
		return rc;
	snprintf(rel, sizeof(rel), "wq%d/enable", wq);
	return attr_write(rel, "1");
}

/*
 * With PRS on, a data page that is not present is requested (and the engine waits for it)
 * only when the descriptor asks to block on fault and the WQ allows it (WQCFG.bof, the WQ's
 * block_on_fault): without BOF the memmove ends in a partial completion, as the status name
 * DSA_COMP_PAGE_FAULT_NOBOF says; with both it completes.
 */
TEST_F(wq, data_fault_blocks_only_with_bof)
{
	struct dsa_hw_desc d;
	char *src = self->buf, *nobof = self->buf + 7 * 4096, *bof = self->buf + 6 * 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);

	if (variant->prs_disable)
		SKIP(return, "PRS off: no page is requested");
	for (int i = 0; i < 64; i++)
		src[i] = (char)(i + 1);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, src, nobof, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_PAGE_FAULT_NOBOF | DSA_COMP_STATUS_WRITE, wait_cr(cr));
	EXPECT_EQ((uintptr_t)nobof, cr->fault_addr);

	/* The file goes with the WQ's disable. */
	close(self->fd);
	ASSERT_EQ(0, set_block_on_fault(variant->wq, "1"));
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, src, bof, 64, cr);
	d.flags |= IDXD_OP_FLAG_BOF;
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	EXPECT_EQ(0, memcmp(src, bof, 64));

	close(self->fd);
	ASSERT_EQ(0, set_block_on_fault(variant->wq, "0"));
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd);
}

/* A memmove with its CR in a present page: the device writes the CR. */
TEST_F(wq, memmove_present_cr)
{
	struct dsa_hw_desc d;
	char *src = self->buf, *dst = self->buf + 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);

	for (int i = 0; i < 4096; i++)
		src[i] = (char)(i * 7 + 3);
	memset(dst, 0, 4096);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, src, dst, 4096, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	ASSERT_EQ(0, memcmp(src, dst, 4096));
}

/*
 * Disabling a WQ removes its device node, re-enabling brings it back; a file opened before
 * keeps working and keeps counting: a dedicated WQ stays taken by it, and a new file of a
 * shared WQ gets its own file<K> directory.
 */
/*
 * Revocation: disabling a WQ (the only state it can be reconfigured in) revokes the files
 * open on it. From then on write() and mmap() fail with ENODEV and poll() reports
 * POLLERR | POLLHUP, even once the WQ is enabled again; the files' PASIDs are released (no
 * client is left, and a dedicated WQ admits a new opener at once); closing a revoked file is
 * clean (the teardown does it).
 */
TEST_F(wq, disabled_wq_revokes_its_open_files)
{
	char *src = self->buf, *dst = self->buf + 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct pollfd p = { .fd = self->fd, .events = POLLIN };
	char rel[32], node[64];
	struct dsa_hw_desc d;
	struct stat st;
	int fd2;

	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	snprintf(node, sizeof(node), "/dev/dsa/wq%s.%d", dev_index(), variant->wq);
	memmove_desc(&d, src, dst, 512, cr);
	ASSERT_EQ(0, attr_write(rel, "0"));
	EXPECT_NE(0, stat(node, &st));
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, attr_write(rel, "1"));
	ASSERT_EQ(0, stat(node, &st));
	/* Still revoked on the re-enabled WQ. */
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLERR | POLLHUP, p.revents);
	EXPECT_EQ(ENODEV, mmap_errno(self->fd, 4096));
	EXPECT_EQ(0, wq_attr(variant->wq, -1, "clients"));
	/* A new opener, even of a dedicated WQ, works. */
	fd2 = wq_open(variant->wq);
	ASSERT_LE(0, fd2) TH_LOG("open: %s", strerror(errno));
	memset(src, 0x5a, 512);
	memset(dst, 0, 512);
	memset(cr, 0, sizeof(*cr));
	ASSERT_EQ(sizeof(d), write(fd2, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	ASSERT_EQ(0, memcmp(src, dst, 512));
	EXPECT_EQ(1, wq_attr(variant->wq, -1, "clients"));
	close(fd2);
}

/*
 * Disabling the device revokes the files open on any of its WQs, as disabling the WQ does,
 * and the device forgets its configuration (as idxd's do): it is not enabled again until it
 * has one.
 */
TEST_F(wq, disabled_device_revokes_its_open_files)
{
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct dsa_hw_desc d;

	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	ASSERT_EQ(0, attr_write("enable", "0"));
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, attr_read("wq0/size"));
	EXPECT_EQ(-ENXIO, attr_write("enable", "1"));
	ASSERT_EQ(0, default_config());
	ASSERT_EQ(0, attr_write("enable", "1"));
	enable_wqs();
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, wq_attr(variant->wq, -1, "clients"));
}

/*
 * A new opener of WQ WQ copies 512 bytes of BYTE from SRC to DST with a memmove whose CR is
 * CR (a present page): "ok", or the step that failed ("open", "write", "completion",
 * "data").
 */
static const char *new_opener_copies(int wq, char *src, char *dst,
				     struct dsa_completion_record *cr, int byte)
{
	struct dsa_hw_desc d;
	const char *step = "ok";
	int fd = wq_open(wq);

	if (fd < 0)
		return "open";
	memset(src, byte, 512);
	memset(dst, 0, 512);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, src, dst, 512, cr);
	if (write(fd, &d, sizeof(d)) != sizeof(d))
		step = "write";
	else if (wait_cr(cr) != DSA_COMP_SUCCESS)
		step = "completion";
	else if (memcmp(src, dst, 512))
		step = "data";
	close(fd);
	return step;
}

/*
 * A reset of the device's PCI function (FLR, through its reset attribute) clears everything
 * the driver programmed, the WQ's PASID among it: the files open before it are revoked, as a
 * WQ disable revokes them, and the WQ comes back enabled with its configuration (as idxd's
 * reset_done() brings it back), for new openers.
 */
TEST_F(wq, function_reset_revokes_open_files)
{
	char *src = self->buf, *dst = self->buf + 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	char bus[64], path[128], state[32], state_rel[32];
	struct dsa_hw_desc d;
	int fd;

	if (model_device())
		SKIP(return, "a model device is not a PCI function");
	ASSERT_EQ(0, ridxd_attr_read_str(dev_index(), "device", bus, sizeof(bus)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bus);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		SKIP(return, "%s: no function reset (%s)", bus, strerror(errno));
	memmove_desc(&d, src, dst, 512, cr);
	EXPECT_EQ(1, write(fd, "1", 1)) TH_LOG("reset %s: %s", bus, strerror(errno));
	close(fd);
	snprintf(state_rel, sizeof(state_rel), "wq%d/state", variant->wq);
	ridxd_attr_read_str(dev_index(), state_rel, state, sizeof(state));
	EXPECT_STREQ("enabled", state);
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, wq_attr(variant->wq, -1, "clients"));
	EXPECT_STREQ("ok", new_opener_copies(variant->wq, src, dst, cr, 0x3c));
}

/*
 * A device that halts needing a software reset (injected into the model: debugfs
 * ridxd_sim<N>/inject_halt) is reset and enabled again by the driver, as idxd's
 * idxd_device_reinit() does; the reset took every PASID off the device, so the files open
 * before it are revoked, as a WQ disable revokes them, and new openers work.
 */
TEST_F(wq, software_halt_recovery_revokes_open_files)
{
	char *src = self->buf, *dst = self->buf + 4096;
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	char dev[32], knob[128], state[32], wq_state[32], state_rel[32], node[64];
	struct dsa_hw_desc d;
	int i;

	ASSERT_EQ(0, ridxd_attr_read_str(dev_index(), "device", dev, sizeof(dev)));
	snprintf(knob, sizeof(knob), DBG "/%s/inject_halt", dev);
	if (access(knob, W_OK))
		SKIP(return, "not a model device (no %s)", knob);
	EXPECT_EQ(-EINVAL, ridxd_write_file(knob, "4"));
	ASSERT_EQ(0, ridxd_write_file(knob, "0"));
	/*
	 * The device reads "halted" until its Reset Device; the recovery runs in a work item,
	 * and a WQ reads "enabled" just before its char device is registered (as under idxd).
	 */
	snprintf(state_rel, sizeof(state_rel), "wq%d/state", variant->wq);
	snprintf(node, sizeof(node), "/dev/dsa/wq%s.%d", dev_index(), variant->wq);
	for (i = 0; i < 200; i++) {
		ridxd_attr_read_str(dev_index(), "state", state, sizeof(state));
		ridxd_attr_read_str(dev_index(), state_rel, wq_state, sizeof(wq_state));
		if (!strcmp(state, "enabled") && !strcmp(wq_state, "enabled") && !access(node, F_OK))
			break;
		usleep(10000);
	}
	EXPECT_STREQ("enabled", state);
	EXPECT_STREQ("enabled", wq_state);
	memmove_desc(&d, src, dst, 512, cr);
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_STREQ("ok", new_opener_copies(variant->wq, src, dst, cr, 0x69));
}

/* CRs in a never-touched page and in a MADV_DONTNEED page. */
TEST_F(wq, memmove_cr_in_absent_pages)
{
	struct dsa_hw_desc d;
	char *src = self->buf, *dst = self->buf + 4096;
	char *fresh = self->buf + 5 * 4096, *dropped = self->buf + 6 * 4096;
	long faults0 = wq_attr(variant->wq, -1, "cr_faults"), want;

	for (int i = 0; i < 512; i++)
		src[i] = (char)(i ^ 0x5a);
	dropped[0] = 1;
	ASSERT_EQ(0, madvise(dropped, 4096, MADV_DONTNEED));

	memmove_desc(&d, src, dst, 512, fresh);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)fresh));

	memmove_desc(&d, src, dst + 1024, 256, dropped + 64);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)(dropped + 64)));
	ASSERT_EQ(0, memcmp(src, dst + 1024, 256));
	/* With PRS off the driver wrote both records; with PRS on the device faulted them in. */
	want = faults0 + (variant->prs_disable ? 2 : 0);
	EXPECT_EQ(want, wq_attr_wait(variant->wq, -1, "cr_faults", want));
}

/*
 * More CR faults in flight than the event log has entries (64 by default, 256 after the
 * admin tests): each CR in a page of its own, never touched. None is lost.
 */
TEST_F(wq, more_cr_faults_than_log_entries)
{
	const int n = 300;
	char *crs = map_pages(n);
	struct dsa_hw_desc d;
	long faults0, wq_size, want;
	int i;

	ASSERT_NE(NULL, crs);
	wq_size = wq_attr(variant->wq, -1, "size");
	ASSERT_LT(0, wq_size);
	faults0 = wq_attr(variant->wq, -1, "cr_faults");
	for (i = 0; i < n; i++) {
		/*
		 * A dedicated WQ drops what does not fit (MOVDIR64B reports nothing): keep at most
		 * its size in flight. A shared WQ says "retry" (EAGAIN).
		 */
		if (variant->wq == 0 && i >= wq_size)
			ASSERT_NE(0, wait_cr((void *)(crs + (i - wq_size) * 4096)));
		memmove_desc(&d, self->buf, self->buf + 4096, 32, crs + i * 4096);
		while (write(self->fd, &d, sizeof(d)) != sizeof(d))
			ASSERT_EQ(EAGAIN, errno);
	}
	for (i = 0; i < n; i++)
		ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)(crs + i * 4096))) TH_LOG("CR %d", i);
	/* With PRS off the driver wrote every one of them; with PRS on, none. */
	want = faults0 + (variant->prs_disable ? n : 0);
	EXPECT_EQ(want, wq_attr_wait(variant->wq, -1, "cr_faults", want));
	munmap(crs, n * 4096);
}

/* Bad input write() refuses (EINVAL): the device never sees it. */
TEST_F(wq, bad_input)
{
	struct dsa_hw_desc d;
	char *cr = self->buf + 3 * 4096;

	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	/* Not a whole descriptor. */
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d) - 1));
	EXPECT_EQ(EINVAL, errno);
	/* A CR address that is not 32-byte aligned. */
	d.completion_addr = (uintptr_t)(cr + 8);
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(EINVAL, errno);
	/* The privileged bit. */
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	d.priv = 1;
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(EINVAL, errno);
	/* The WQ still works. */
	memset(cr, 0, 32);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)cr));
}

/*
 * Opcodes the device does not support: write() takes them (the device checks opcodes), the
 * CR says unsupported opcode, nothing is written, and the WQ keeps working. 0x0b-0x0f lie
 * between Translation Fetch and CRC Generation, 0xff past every DSA opcode: reserved.
 */
TEST_F(wq, reserved_opcode)
{
	static const uint8_t ops[] = { 0x0f, 0xff };
	char *src = self->buf, *dst = self->buf + 4096;
	volatile struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct dsa_hw_desc d;

	fill_bytes(src, 4096, 5);
	for (size_t i = 0; i < sizeof(ops); i++) {
		memset((void *)cr, 0, 32);
		memmove_desc(&d, src, dst, 4096, (void *)cr);
		d.opcode = ops[i];
		ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d))) TH_LOG("opcode %#x", ops[i]);
		ASSERT_EQ(DSA_COMP_BAD_OPCODE, wait_cr(cr)) TH_LOG("opcode %#x", ops[i]);
		EXPECT_EQ(0, cr->bytes_completed);
		ASSERT_EQ(-1, first_not(dst, 0, 4096)) TH_LOG("opcode %#x", ops[i]);
	}
	memset((void *)cr, 0, 32);
	memmove_desc(&d, src, dst, 4096, (void *)cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	ASSERT_EQ(-1, first_diff(src, dst, 4096));
}

/*
 * A descriptor written through a file descriptor inherited by another process. (The parent's
 * pages are copy-on-write afterwards; this test writes nothing after the fork.)
 */
TEST_F(wq, other_process_gets_eperm)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dsa_hw_desc d;

		memmove_desc(&d, self->buf, self->buf + 4096, 64, self->buf + 3 * 4096);
		_exit(write(self->fd, &d, sizeof(d)) == -1 && errno == EPERM ? 0 : 1);
	}
	EXPECT_EQ(0, child_exit(pid));
}

/* Enables both WQs (an error only means one already was). */

TEST(dedicated_wq_one_opener)
{
	int a, b;

	enable_wqs();
	a = wq_open(0);
	ASSERT_LE(0, a);
	b = wq_open(0);
	EXPECT_EQ(-1, b);
	EXPECT_EQ(EBUSY, errno);
	close(a);
	b = wq_open(0);
	EXPECT_LE(0, b);
	close(b);
}

/*
 * Fault injection (CONFIG_FAILSLAB; Documentation/fault-injection/fault-injection.rst): a child
 * writes N to its /proc/thread-self/fail-nth, so that the N-th slab allocation it makes from
 * then on fails, and opens the WQ. Reads back 0 from fail-nth if the failure was injected,
 * what is left of N if the open made fewer allocations. Writes { errno of the open (0: it
 * succeeded), injected } to OUT; the file, if any, is closed as the child exits.
 */
static void __attribute__((noreturn)) open_with_nth_failing(int wq, unsigned int n, int out)
{
	int r[2] = { 0, 0 }, nth, fd;
	char v[16];
	ssize_t len;

	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	snprintf(v, sizeof(v), "%u", n);
	if (nth < 0 || write(nth, v, strlen(v)) < 0)
		_exit(2);
	fd = wq_open(wq);
	r[0] = fd < 0 ? errno : 0;
	len = pread(nth, v, sizeof(v) - 1, 0);
	if (len <= 0 || write(nth, "0", 1) < 0)
		_exit(2);
	v[len] = '\0';
	r[1] = atoi(v) == 0;
	if (write(out, r, sizeof(r)) != sizeof(r))
		_exit(2);
	_exit(0);
}

/* The PASID an open of WQ WQ by this process gets (debugfs file<K>/pasid); -1 if none. */
static long opened_pasid(int wq)
{
	long pasid = -1;
	int fd = wq_open(wq), k;

	if (fd < 0)
		return -1;
	k = file_id(wq, getpid());
	if (k >= 0)
		pasid = wq_attr(wq, k, "pasid");
	close(fd);
	return pasid;
}

/* failslab's settings, as they were before the test changed them. */
FIXTURE(failslab) {
	char gfp_wait[8], verbose[8];
};

#define FAILSLAB "/sys/kernel/debug/failslab"

static void read_setting(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f && fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

FIXTURE_SETUP(failslab)
{
	struct stat st;

	if (stat("/proc/thread-self/fail-nth", &st) || stat(FAILSLAB, &st))
		SKIP(return, "no fault injection in this kernel (CONFIG_FAILSLAB, _DEBUG_FS)");
	if (!model_device())
		SKIP(return, "PCI devices' PASIDs are the IOMMU's, one per process: model devices only");
	read_setting(FAILSLAB "/ignore-gfp-wait", self->gfp_wait, sizeof(self->gfp_wait));
	read_setting(FAILSLAB "/verbose", self->verbose, sizeof(self->verbose));
	/* GFP_KERNEL allocations are left alone unless asked; no stack dump per failure. */
	ASSERT_EQ(0, ridxd_write_file(FAILSLAB "/ignore-gfp-wait", "N"));
	ASSERT_EQ(0, ridxd_write_file(FAILSLAB "/verbose", "0"));
}

FIXTURE_TEARDOWN(failslab)
{
	if (self->gfp_wait[0])
		ridxd_write_file(FAILSLAB "/ignore-gfp-wait", self->gfp_wait);
	if (self->verbose[0])
		ridxd_write_file(FAILSLAB "/verbose", self->verbose);
}

/*
 * An open that fails for want of memory leaves nothing behind (issue 13: an allocation
 * failure after the PASID reached WQCFG leaked the context, with its mm reference and
 * PASID). Each slab allocation of an open (failslab: not page or vmalloc ones) fails in
 * turn, in a child that then exits; after each, the device has as many fault-path contexts
 * as before, no file<K> of the child is left, and this process's next open works (a
 * dedicated WQ is not left taken) and gets the PASID it got before: the model hands out the
 * lowest free one, so a PASID kept by the failed open would move it.
 */
TEST_F(failslab, open_fails_cleanly_at_each_allocation)
{
	enable_wqs();
	for (int wq = 0; wq < 2; wq++) {
		long contexts = ridxd_fault_path_stat(dev_index(), "contexts");
		long pasid = opened_pasid(wq);
		unsigned int n;
		int failed = 0;

		ASSERT_LE(0, contexts);
		ASSERT_LT(0, pasid) TH_LOG("wq%d: open: %s", wq, strerror(errno));
		for (n = 1; n < 1000; n++) {
			int r[2] = { -1, 0 }, p[2], status;
			pid_t pid;

			ASSERT_EQ(0, pipe(p));
			pid = fork();
			ASSERT_LE(0, pid);
			if (!pid) {
				close(p[0]);
				open_with_nth_failing(wq, n, p[1]);
			}
			close(p[1]);
			EXPECT_EQ(sizeof(r), read(p[0], r, sizeof(r)));
			close(p[0]);
			ASSERT_EQ(pid, waitpid(pid, &status, 0));
			ASSERT_EQ(0, status);
			if (r[0])
				failed++;
			EXPECT_EQ(contexts, ridxd_fault_path_stat(dev_index(), "contexts"))
				TH_LOG("wq%d, allocation %u failed: open %s", wq, n, strerror(r[0]));
			EXPECT_EQ(0, file_ids(wq, pid, NULL, 0));
			EXPECT_EQ(pasid, opened_pasid(wq))
				TH_LOG("wq%d, allocation %u failed: open %s; then: %s", wq, n,
				       strerror(r[0]), strerror(errno));
			if (!r[1])
				break;
		}
		EXPECT_GT(1000, n);
		/* The open made n - 1 allocations; at least one failure failed it. */
		TH_LOG("wq%d: %u allocations, %d failed opens", wq, n - 1, failed);
		EXPECT_LT(0, failed);
	}
}

/* A process killed with completion-record faults in flight: nothing else is harmed. */
static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/*
 * A hostile process puts the CRs of UFFD_TRAPS descriptors in pages registered with
 * userfaultfd (missing mode) and never answers the faults. The driver's fix-up must not wait
 * for them: those CRs count as failures, another process's CR fault submitted after them is
 * still fixed up within 100 ms (its fix-ups do not queue behind the hostile process's), and
 * both processes' close() return at once. (The fix-up used to sleep in the fault, stalling
 * every process of the device, and close(), until the userfault was answered; then it
 * waited up to 20 ms for each hostile CR in turn on the device's one fault work, so the other
 * process waited UFFD_TRAPS times that.)
 */
#define UFFD_TRAPS 32

/*
 * UFFD_TRAPS pages registered with a new userfaultfd (missing mode), whose faults nobody
 * answers; *UFFD is the userfaultfd, or -1 (errno set) when there is none, and NULL is
 * returned then or when the pages cannot be had.
 */
static char *uffd_trap_pages(int *uffd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	char *trap;

	*uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (*uffd < 0 || ioctl(*uffd, UFFDIO_API, &api))
		return NULL;
	trap = mmap(NULL, UFFD_TRAPS * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (trap == MAP_FAILED)
		return NULL;
	reg.range.start = (uintptr_t)trap;
	reg.range.len = UFFD_TRAPS * 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(*uffd, UFFDIO_REGISTER, &reg)) {
		munmap(trap, UFFD_TRAPS * 4096);
		return NULL;
	}
	return trap;
}

/* Submits UFFD_TRAPS memmoves on FD whose CRs are in the pages of TRAP; 0, or -1. */
static int submit_trapped(int fd, char *buf, char *trap)
{
	struct dsa_hw_desc d;

	for (int i = 0; i < UFFD_TRAPS; i++) {
		int tries = 0;

		memmove_desc(&d, buf, buf + 4096, 64, trap + i * 4096);
		while (write(fd, &d, sizeof(d)) != sizeof(d)) {
			if (errno != EAGAIN || tries++ > 1000)
				return -1;
			usleep(1000);
		}
	}
	return 0;
}

/*
 * Answers every fault of TRAP with a zero page, after which it can be read: 0 if no CR was
 * written in any of its pages.
 */
static int trap_untouched(int uffd, char *trap)
{
	struct uffdio_zeropage zp = {
		.range = { .start = (uintptr_t)trap, .len = UFFD_TRAPS * 4096 },
	};

	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
		return -1;
	for (int i = 0; i < UFFD_TRAPS; i++)
		if (((struct dsa_completion_record *)(trap + i * 4096))->status)
			return -1;
	return 0;
}

/*
 * The number of the model device listed last in debugfs sim_devices ("dsa<N> ..." lines, in
 * creation order), into DEV; 0, or -1 if there is none.
 */
static int last_sim_device(char *dev, size_t len)
{
	char line[128];
	int n = -1, k;
	FILE *f = fopen(DBG "/sim_devices", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "dsa%d ", &k) == 1)
			n = k;
	fclose(f);
	if (n < 0)
		return -1;
	snprintf(dev, len, "%d", n);
	return 0;
}

/*
 * A model device created at run time (debugfs new_device, DSA 2.0 in the default
 * configuration) is removed (del_device) while two files are open on it, one with its CRs
 * waiting on unanswered userfaults (shared WQ, PRS off): the removal finishes within a
 * second; the files answer ENODEV to write and mmap, POLLERR | POLLHUP to poll; the device's
 * nodes and char devices are gone; nothing is written in the trap pages; close is clean.
 * Requests it cannot take are refused with EINVAL, or ENOENT for a device that is not a model
 * device, and change nothing.
 */
TEST(model_device_removed_with_files_open)
{
	char dev[16], before[16] = "", path[128], gone[32];
	struct pollfd p = { .events = POLLIN };
	struct dsa_completion_record *cr;
	struct timespec t0, t1;
	struct dsa_hw_desc d;
	int shared, dedicated, uffd;
	char *buf, *trap;
	struct stat st;

	if (stat(DBG "/new_device", &st))
		SKIP(return, "no model devices (ridxd built without CONFIG_INTEL_IDXD_RUST_SIM)");
	last_sim_device(before, sizeof(before));
	EXPECT_EQ(-EINVAL, ridxd_write_file(DBG "/new_device", "3"));
	EXPECT_EQ(-EINVAL, ridxd_write_file(DBG "/new_device", "2 1 1"));
	EXPECT_EQ(-EINVAL, ridxd_write_file(DBG "/del_device", "wq1.0"));
	EXPECT_EQ(-ENOENT, ridxd_write_file(DBG "/del_device", "dsa100000"));
	/* Without model devices (PCI devices only), there is none before or after. */
	dev[0] = '\0';
	last_sim_device(dev, sizeof(dev));
	EXPECT_STREQ(before, dev) TH_LOG("a refused request created a device");

	ASSERT_EQ(0, ridxd_write_file(DBG "/new_device", "2 1"));
	ASSERT_EQ(0, last_sim_device(dev, sizeof(dev)));
	ASSERT_STRNE(before, dev);
	snprintf(path, sizeof(path), RIDXD_SYSFS "/devices/dsa%s/state", dev);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, attr_write_dev(dev, "wq1/enable", "0"));
	ASSERT_EQ(0, ridxd_attr_write(dev, "wq1/prs_disable", "1"));
	ASSERT_EQ(0, attr_write_dev(dev, "wq1/enable", "1"));

	snprintf(path, sizeof(path), "/dev/dsa/wq%s.1", dev);
	shared = open(path, O_RDWR);
	ASSERT_LE(0, shared) TH_LOG("open %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "/dev/dsa/wq%s.0", dev);
	dedicated = open(path, O_RDWR);
	ASSERT_LE(0, dedicated) TH_LOG("open %s: %s", path, strerror(errno));
	buf = map_pages(4);
	ASSERT_NE(NULL, buf);
	memset(buf, 0x3c, 3 * 4096);
	cr = (void *)(buf + 2 * 4096);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, buf, buf + 4096, 512, cr);
	ASSERT_EQ(sizeof(d), write(dedicated, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	trap = uffd_trap_pages(&uffd);
	ASSERT_NE(NULL, trap) TH_LOG("userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, submit_trapped(shared, buf, trap)) TH_LOG("%s", strerror(errno));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(gone, sizeof(gone), "dsa%s", dev);
	ASSERT_EQ(0, ridxd_write_file(DBG "/del_device", gone));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(1000, ms_between(&t0, &t1)) TH_LOG("removal took %ld ms", ms_between(&t0, &t1));
	EXPECT_EQ(-ENOENT, ridxd_write_file(DBG "/del_device", gone));
	if (last_sim_device(path, sizeof(path)) == 0)
		EXPECT_STRNE(dev, path);

	for (int i = 0; i < 2; i++) {
		int fd = i ? shared : dedicated;

		memset(cr, 0, sizeof(*cr));
		EXPECT_EQ(-1, write(fd, &d, sizeof(d)));
		EXPECT_EQ(ENODEV, errno);
		p.fd = fd;
		EXPECT_EQ(1, poll(&p, 1, 0));
		EXPECT_EQ(POLLERR | POLLHUP, p.revents);
		EXPECT_EQ(ENODEV, mmap_errno(fd, 4096));
		EXPECT_EQ(0, cr->status);
	}
	snprintf(path, sizeof(path), "/dev/dsa/wq%s.0", dev);
	EXPECT_NE(0, stat(path, &st));
	snprintf(path, sizeof(path), RIDXD_SYSFS "/devices/dsa%s", dev);
	EXPECT_NE(0, stat(path, &st));
	snprintf(path, sizeof(path), RIDXD_SYSFS "/devices/wq%s.1", dev);
	EXPECT_NE(0, stat(path, &st));
	EXPECT_EQ(0, trap_untouched(uffd, trap));
	EXPECT_EQ(0, close(shared));
	EXPECT_EQ(0, close(dedicated));
	close(uffd);
	munmap(trap, UFFD_TRAPS * 4096);
	munmap(buf, 4 * 4096);
}

TEST_F(wq, cr_in_unanswered_userfault_page)
{
	struct dsa_hw_desc d;
	struct timespec t0, t1;
	char *trap;
	int uffd, *res;
	long fails0, faults0;
	pid_t pid;

	if (!variant->prs_disable || variant->wq != 1)
		SKIP(return, "needs a shared WQ with PRS off (two processes, CR faults)");
	trap = uffd_trap_pages(&uffd);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_NE(NULL, trap);
	res = map_results();
	ASSERT_NE(NULL, res);
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	faults0 = wq_attr(variant->wq, -1, "cr_faults");

	ASSERT_EQ(0, submit_trapped(self->fd, self->buf, trap)) TH_LOG("%s", strerror(errno));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = wq_open(variant->wq);
		char *crs = map_pages(1), *data = map_pages(2);
		struct timespec a, b;

		if (fd < 0 || !crs || !data)
			_exit(1);
		memset(data, 1, 2 * 4096);
		memmove_desc(&d, data, data + 4096, 64, crs);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (write(fd, &d, sizeof(d)) != sizeof(d))
			_exit(2);
		res[0] = wait_cr((void *)crs);
		clock_gettime(CLOCK_MONOTONIC, &b);
		res[1] = ms_between(&a, &b);
		clock_gettime(CLOCK_MONOTONIC, &a);
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &b);
		res[2] = ms_between(&a, &b);
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(DSA_COMP_SUCCESS, res[0]);
	EXPECT_GT(100, res[1]) TH_LOG("another process's CR took %d ms", res[1]);
	EXPECT_GT(1000, res[2]) TH_LOG("another process's close() took %d ms", res[2]);
	/*
	 * The hostile CRs count as failures, this process's only. (The other process's written CR
	 * was checked above: the WQ's counters sum open files only, and its file is closed.)
	 */
	EXPECT_EQ(fails0 + UFFD_TRAPS,
		  wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + UFFD_TRAPS));
	EXPECT_EQ(faults0, wq_attr(variant->wq, -1, "cr_faults"));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	close(self->fd);
	self->fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(1000, ms_between(&t0, &t1)) TH_LOG("close() took %ld ms", ms_between(&t0, &t1));
	/* Nothing was written there: answered now, the pages read as zeroes. */
	EXPECT_EQ(0, trap_untouched(uffd, trap));
	close(uffd);
	munmap(trap, UFFD_TRAPS * 4096);
	munmap(res, 4096);
}

/*
 * The WQ is disabled while this process's CRs wait on unanswered userfaults: the disable
 * (which revokes the open file: its PASID is drained and released, its fix-ups waited for)
 * finishes within a second, the file answers ENODEV, nothing is written in the trap pages,
 * and the re-enabled WQ works for a new opener.
 */
TEST_F(wq, disable_with_userfault_crs_pending)
{
	char *src = self->buf, *dst = self->buf + 4096, rel[32];
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct timespec t0, t1;
	struct dsa_hw_desc d;
	char *trap;
	int uffd, fd2;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fault reaches the driver");
	trap = uffd_trap_pages(&uffd);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_NE(NULL, trap);
	ASSERT_EQ(0, submit_trapped(self->fd, self->buf, trap)) TH_LOG("%s", strerror(errno));
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, attr_write(rel, "0"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(1000, ms_between(&t0, &t1)) TH_LOG("disable took %ld ms", ms_between(&t0, &t1));
	memmove_desc(&d, src, dst, 64, cr);
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, attr_write(rel, "1"));
	EXPECT_EQ(0, trap_untouched(uffd, trap));
	fd2 = wq_open(variant->wq);
	ASSERT_LE(0, fd2) TH_LOG("open: %s", strerror(errno));
	memset(cr, 0, sizeof(*cr));
	ASSERT_EQ(sizeof(d), write(fd2, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	close(fd2);
	close(uffd);
	munmap(trap, UFFD_TRAPS * 4096);
}


/*
 * The device is disabled (its driver unbound, as accel-config disable-device does) while this
 * process's CRs wait on unanswered userfaults: the disable finishes within a second, the file
 * answers ENODEV, nothing is written in the trap pages, and the device comes back with a
 * configuration. (rmmod, once the files are closed, is tests.sh's.)
 */
TEST_F(wq, device_disable_with_userfault_crs_pending)
{
	struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct timespec t0, t1;
	struct dsa_hw_desc d;
	char *trap;
	int uffd;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fault reaches the driver");
	trap = uffd_trap_pages(&uffd);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_NE(NULL, trap);
	ASSERT_EQ(0, submit_trapped(self->fd, self->buf, trap)) TH_LOG("%s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, attr_write("enable", "0"));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	EXPECT_GT(1000, ms_between(&t0, &t1)) TH_LOG("disable took %ld ms", ms_between(&t0, &t1));
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	EXPECT_EQ(-1, write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, wq_attr(variant->wq, -1, "clients"));
	ASSERT_EQ(0, default_config());
	ASSERT_EQ(0, attr_write("enable", "1"));
	enable_wqs();
	EXPECT_EQ(0, trap_untouched(uffd, trap));
	close(uffd);
	munmap(trap, UFFD_TRAPS * 4096);
}

/*
 * A FUSE file whose daemon never answers a read: a CR in a MAP_SHARED mapping of it that
 * was never touched. The daemon (a child, speaking the FUSE protocol on /dev/fuse itself,
 * include/uapi/linux/fuse.h) does not ask for FUSE_ASYNC_READ, so reading a page of the file
 * waits for its reply in the reader's own thread, whatever fault flags the reader passed. A
 * fix-up must not become that reader: the CR counts as a failure within a second, another
 * process's fix-up is not delayed, this process's close() finishes, and nothing was written
 * (the daemon never gets a FUSE_WRITE).
 */
enum { FUSE_SEEN_READ, FUSE_SEEN_WRITE, FUSE_SEEN_MAX };

static int fuse_reply(int fd, uint64_t unique, int error, const void *arg, size_t len)
{
	char out[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header *h = (void *)out;

	h->len = sizeof(*h) + len;
	h->error = error;
	h->unique = unique;
	memcpy(out + sizeof(*h), arg, len);
	return write(fd, out, h->len) == h->len ? 0 : -1;
}

static void fuse_fill_attr(struct fuse_attr *a, uint64_t nodeid)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	a->mode = nodeid == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0666;
	a->nlink = nodeid == FUSE_ROOT_ID ? 2 : 1;
	a->size = nodeid == FUSE_ROOT_ID ? 0 : 4096;
	a->blocks = 8;
	a->blksize = 4096;
}

/* The daemon's loop: answers what opening and mapping "f" needs, never a FUSE_READ. */
static void __attribute__((noreturn)) fuse_stuck_daemon(int fd, int *seen)
{
	static char in[FUSE_MIN_READ_BUFFER + 65536];

	for (;;) {
		struct fuse_in_header *h = (void *)in;
		void *arg = in + sizeof(*h);
		ssize_t n = read(fd, in, sizeof(in));

		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(*h))
			_exit(0);
		switch (h->opcode) {
		case FUSE_INIT: {
			struct fuse_init_in *i = arg;
			struct fuse_init_out o = {
				.major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = i->max_readahead,
				.max_write = 4096,
				.time_gran = 1,
			};

			fuse_reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = { .nodeid = 2, .generation = 1 };

			if (strcmp(arg, "f")) {
				fuse_reply(fd, h->unique, -ENOENT, NULL, 0);
				break;
			}
			fuse_fill_attr(&o.attr, 2);
			fuse_reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_GETATTR:
		case FUSE_SETATTR: {
			struct fuse_attr_out o = { 0 };

			fuse_fill_attr(&o.attr, h->nodeid);
			fuse_reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 1 };

			fuse_reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ:
			__atomic_add_fetch(&seen[FUSE_SEEN_READ], 1, __ATOMIC_SEQ_CST);
			break;
		case FUSE_WRITE: {
			struct fuse_write_out o = { .size = ((struct fuse_write_in *)arg)->size };

			__atomic_add_fetch(&seen[FUSE_SEEN_WRITE], 1, __ATOMIC_SEQ_CST);
			fuse_reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		case FUSE_FLUSH:
		case FUSE_RELEASE:
		case FUSE_ACCESS:
			fuse_reply(fd, h->unique, 0, NULL, 0);
			break;
		default:
			fuse_reply(fd, h->unique, -ENOSYS, NULL, 0);
		}
	}
}

TEST_F(wq, cr_in_stuck_fuse_page)
{
	char mnt[] = "/tmp/ridxd-fuse-XXXXXX", opts[128], file[64];
	struct timespec t0, t1;
	struct dsa_hw_desc d;
	pid_t daemon, watchdog, pid;
	int fusefd, ffd, *res;
	long fails0, took;
	char *page;

	if (!variant->prs_disable || variant->wq != 1)
		SKIP(return, "needs a shared WQ with PRS off (two processes, CR faults)");
	fusefd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fusefd < 0)
		SKIP(return, "no /dev/fuse: %s", strerror(errno));
	ASSERT_NE(NULL, mkdtemp(mnt));
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fusefd);
	if (mount("ridxd-stuck", mnt, "fuse", MS_NOSUID | MS_NODEV, opts)) {
		int e = errno;

		close(fusefd);
		rmdir(mnt);
		SKIP(return, "mount fuse: %s", strerror(e));
	}
	res = map_results();
	ASSERT_NE(NULL, res);
	res[FUSE_SEEN_READ] = res[FUSE_SEEN_WRITE] = 0;
	daemon = fork();
	ASSERT_LE(0, daemon);
	if (daemon == 0)
		fuse_stuck_daemon(fusefd, res);
	close(fusefd);
	snprintf(file, sizeof(file), "%s/f", mnt);
	ffd = open(file, O_RDWR);
	ASSERT_LE(0, ffd) TH_LOG("open %s: %s", file, strerror(errno));
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	ASSERT_NE(MAP_FAILED, page);
	/* Whatever waits on the daemon is let go after 3 s: the connection is aborted. */
	watchdog = fork();
	ASSERT_LE(0, watchdog);
	if (watchdog == 0) {
		sleep(3);
		kill(daemon, SIGKILL);
		_exit(0);
	}
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");

	memmove_desc(&d, self->buf, self->buf + 4096, 64, page);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = wq_open(variant->wq);
		char *crs = map_pages(1), *data = map_pages(2);
		struct timespec a, b;

		if (fd < 0 || !crs || !data)
			_exit(1);
		memset(data, 1, 2 * 4096);
		memmove_desc(&d, data, data + 4096, 64, crs);
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (write(fd, &d, sizeof(d)) != sizeof(d))
			_exit(2);
		res[FUSE_SEEN_MAX] = wait_cr((void *)crs);
		clock_gettime(CLOCK_MONOTONIC, &b);
		res[FUSE_SEEN_MAX + 1] = ms_between(&a, &b);
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(DSA_COMP_SUCCESS, res[FUSE_SEEN_MAX]);
	EXPECT_GT(100, res[FUSE_SEEN_MAX + 1])
		TH_LOG("another process's CR took %d ms", res[FUSE_SEEN_MAX + 1]);

	/* Counted within a second, before the watchdog lets anything go. */
	for (int i = 0; i < 1000; i++) {
		if (wq_attr(variant->wq, -1, "cr_fault_failures") == fails0 + 1)
			break;
		usleep(1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = ms_between(&t0, &t1);
	EXPECT_EQ(fails0 + 1, wq_attr(variant->wq, -1, "cr_fault_failures"))
		TH_LOG("no failure counted %ld ms after the submission", took);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	close(self->fd);
	self->fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = ms_between(&t0, &t1);
	EXPECT_GT(1000, took) TH_LOG("close() took %ld ms", took);
	/* Were the page dirty, writing it back would be a FUSE_WRITE. */
	msync(page, 4096, MS_SYNC);
	EXPECT_EQ(0, __atomic_load_n(&res[FUSE_SEEN_WRITE], __ATOMIC_SEQ_CST));
	TH_LOG("the daemon got %d FUSE_READ", __atomic_load_n(&res[FUSE_SEEN_READ], __ATOMIC_SEQ_CST));

	kill(watchdog, SIGKILL);
	waitpid(watchdog, NULL, 0);
	kill(daemon, SIGKILL);
	waitpid(daemon, NULL, 0);
	munmap(page, 4096);
	close(ffd);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	munmap(res, 4096);
}

/*
 * The body of a child process that opens WQ WQ, submits 64 memmoves whose CRs are in pages
 * never touched (CR faults with PRS off), says so on READY and waits to be killed.
 */
static void __attribute__((noreturn)) child_with_faults_in_flight(int wq, int ready)
{
	int fd = wq_open(wq);
	char *crs = map_pages(64), *data = map_pages(2);
	struct dsa_hw_desc d;

	if (fd < 0 || !crs || !data)
		_exit(1);
	memset(data, 1, 2 * 4096);
	for (int i = 0; i < 64; i++) {
		memmove_desc(&d, data, data + 4096, 2048, crs + i * 4096);
		if (write(fd, &d, sizeof(d)) != sizeof(d) && errno != EAGAIN)
			_exit(1);
	}
	if (write(ready, "x", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

TEST_F(wq, killed_with_faults_pending)
{
	int pipefd[2], status;
	struct dsa_hw_desc d;
	char *cr = self->buf + 3 * 4096;
	pid_t pid;

	/* The child needs the WQ to itself if it is dedicated. */
	close(self->fd);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child_with_faults_in_flight(variant->wq, pipefd[1]);
	}
	close(pipefd[1]);
	{
		char c;

		ASSERT_EQ(1, read(pipefd[0], &c, 1));
	}
	close(pipefd[0]);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	/*
	 * The next opener works. fork() left this process's pages copy-on-write: present but
	 * read-only, which a device with PRS off cannot write. Writing them breaks the sharing.
	 */
	memset(self->buf, 0, 4 * 4096);
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd);
	memset(cr, 0, 32);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)cr));
}

/*
 * Sixteen processes on a shared WQ, each with 64 CR faults in flight, killed at once: every
 * context leaves (the WQ's clients count returns to this process's own file, then to 0), and
 * the WQ keeps working.
 */
#define KILLED_PROCS 16

TEST_F(wq, sixteen_killed_with_faults_pending)
{
	pid_t pids[KILLED_PROCS];
	int pipefd[2], status;
	struct dsa_hw_desc d;
	char *cr = self->buf + 3 * 4096;

	if (variant->wq != 1)
		SKIP(return, "needs a shared WQ (several openers)");
	ASSERT_EQ(0, pipe(pipefd));
	for (int p = 0; p < KILLED_PROCS; p++) {
		pids[p] = fork();
		ASSERT_LE(0, pids[p]);
		if (pids[p] == 0) {
			child_with_faults_in_flight(variant->wq, pipefd[1]);
		}
	}
	close(pipefd[1]);
	for (int p = 0; p < KILLED_PROCS; p++) {
		char c;

		ASSERT_EQ(1, read(pipefd[0], &c, 1)) TH_LOG("child %d did not start", p);
	}
	close(pipefd[0]);
	EXPECT_EQ(KILLED_PROCS + 1, wq_attr(variant->wq, -1, "clients"));
	for (int p = 0; p < KILLED_PROCS; p++)
		ASSERT_EQ(0, kill(pids[p], SIGKILL));
	for (int p = 0; p < KILLED_PROCS; p++) {
		ASSERT_EQ(pids[p], waitpid(pids[p], &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status));
	}
	/* A killed process's file is released when its last reference goes, at its exit. */
	EXPECT_EQ(1, wq_attr_wait(variant->wq, -1, "clients", 1));
	/* The WQ still works (this process's pages were left copy-on-write by fork()). */
	memset(self->buf, 0, 4 * 4096);
	memset(cr, 0, 32);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)cr));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, wq_attr_wait(variant->wq, -1, "clients", 0));
}

/*
 * poll(): a WQ file is readable (POLLIN | POLLRDNORM) once the driver failed to write one of
 * its CRs, and stays so. A process other than the opener gets POLLNVAL, which poll() passes
 * on only when asked for (fs/select.c masks a driver's events with the requested ones).
 */
TEST_F(wq, poll_fresh_file_and_other_process)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN | POLLRDNORM };
	int *res = map_results();
	pid_t pid;

	ASSERT_NE(NULL, res);
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct pollfd c = { .fd = self->fd, .events = POLLIN | POLLRDNORM | POLLNVAL };

		res[0] = poll(&c, 1, 0);
		res[1] = c.revents;
		c.events = POLLIN | POLLRDNORM;
		res[2] = poll(&c, 1, 0);
		res[3] = c.revents;
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(1, res[0]);
	EXPECT_EQ(POLLNVAL, res[1]);
	/* Not asked for POLLNVAL: not readable either. */
	EXPECT_EQ(0, res[2]);
	EXPECT_EQ(0, res[3]);

	/* The opener's view is unchanged. */
	p.revents = 0;
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(0, p.revents);
	munmap(res, 4096);
}

TEST_F(wq, poll_after_cr_fault_failure)
{
	struct pollfd p = { .fd = self->fd, .events = POLLIN | POLLRDNORM };
	char *src = self->buf, *dst = self->buf + 4096;
	volatile struct dsa_completion_record *cr = (void *)(self->buf + 3 * 4096);
	struct dsa_hw_desc d;
	char *none;
	long fails0;

	if (!variant->prs_disable)
		SKIP(return, "PRS on: no CR fix-up by the driver");
	none = map_none();
	ASSERT_NE(NULL, none);
	fails0 = wq_attr(variant->wq, -1, "cr_fault_failures");
	ASSERT_EQ(0, poll(&p, 1, 0));

	memmove_desc(&d, src, dst, 64, none);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	/* Most likely asleep when the fix-up fails: the failure wakes poll() up. */
	ASSERT_EQ(1, poll(&p, 1, 5000));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	EXPECT_EQ(fails0 + 1, wq_attr_wait(variant->wq, -1, "cr_fault_failures", fails0 + 1));

	/* Sticky: still readable, also after a descriptor that completes normally. */
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	memset((void *)cr, 0, 32);
	memmove_desc(&d, src, dst, 64, (void *)cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	p.revents = 0;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLRDNORM, p.revents);
	munmap(none, 4096);
}

/*
 * mmap() of the WQ's portal page (PROT_WRITE, MAP_SHARED, one page): the opener only (EPERM),
 * with CAP_SYS_RAWIO (EPERM), then the length (EINVAL over a page). A model device has no
 * portal page to map (ENODEV). idxd requires CAP_SYS_RAWIO on every DSA part: its DSA driver
 * data, shared by SPR, GNR-D and DMR, has user_submission_safe = false (INTEL-SA-01084).
 */
TEST_F(wq, mmap_other_process)
{
	int *res = map_results();
	pid_t pid;

	ASSERT_NE(NULL, res);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		res[0] = mmap_errno(self->fd, 4096);
		res[1] = mmap_errno(self->fd, 2 * 4096);
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(EPERM, res[0]);
	EXPECT_EQ(EPERM, res[1]);
	munmap(res, 4096);
}

TEST_F(wq, mmap_without_cap_sys_rawio)
{
	int *res = map_results(), cap = has_cap(CAP_SYS_RAWIO);
	pid_t pid;

	ASSERT_NE(NULL, res);
	/* The child opens the WQ itself (only the opener may map); a dedicated WQ admits one. */
	close(self->fd);
	self->fd = -1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd;

		if (drop_cap(CAP_SYS_RAWIO))
			_exit(1);
		fd = wq_open(variant->wq);
		if (fd < 0)
			_exit(2);
		res[0] = mmap_errno(fd, 4096);
		res[1] = mmap_errno(fd, 2 * 4096);
		close(fd);
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(EPERM, res[0]);
	/* The length is checked after the capability. */
	EXPECT_EQ(EPERM, res[1]);
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd);
	EXPECT_EQ(cap, has_cap(CAP_SYS_RAWIO));
	munmap(res, 4096);
}

TEST_F(wq, mmap_portal)
{
	char bus[64];

	if (has_cap(CAP_SYS_RAWIO) != 1)
		SKIP(return, "no CAP_SYS_RAWIO");
	ASSERT_EQ(0, ridxd_attr_read_str(dev_index(), "device", bus, sizeof(bus)));
	EXPECT_EQ(EINVAL, mmap_errno(self->fd, 2 * 4096));
	if (strncmp(bus, "ridxd_sim", 9))
		SKIP(return, "%s: a PCI device's portal page maps", bus);
	EXPECT_EQ(ENODEV, mmap_errno(self->fd, 4096));
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Whether a 4-byte load from P gets SIGBUS (1) or completes (0). */
static int load_faults(const void *p)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile int faulted = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1))
		faulted = 1;
	else
		(void)*(const volatile uint32_t *)p;
	sigaction(SIGBUS, &old, NULL);
	return faulted;
}

/*
 * The portal page of a PCI device, mapped: MAP_SHARED only (EINVAL for MAP_PRIVATE, whose
 * copy-on-write makes no sense for device memory), readable until the WQ is disabled, then
 * taken away (SIGBUS), and not given back once the WQ is enabled again (the file stays
 * revoked). MAP_POPULATE, which accel-config and the Intel libraries pass, maps too.
 */
TEST_F(wq, portal_mapping_taken_at_disable)
{
	char rel[32];
	void *map;

	if (has_cap(CAP_SYS_RAWIO) != 1)
		SKIP(return, "no CAP_SYS_RAWIO");
	if (model_device())
		SKIP(return, "a model device has no portal page");
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, load_faults(map));
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	ASSERT_EQ(0, attr_write(rel, "0"));
	EXPECT_EQ(1, load_faults(map));
	ASSERT_EQ(0, attr_write(rel, "1"));
	EXPECT_EQ(1, load_faults(map));
	munmap(map, 4096);
}

/*
 * A WQ disabled while its portal is being mapped: the mapping the mmap() returns is taken
 * away all the same. The driver's fault injection (debugfs mmap_delay_ms) holds the mmap()
 * after the driver has done its part, before the kernel links the new mapping to the file;
 * another process disables the WQ in that time.
 */
TEST_F(wq, portal_mapping_taken_while_mapping)
{
	struct timespec ts = { 0, 100 * 1000000 };
	char rel[32], state_rel[32], state[32];
	void *map;
	pid_t pid;

	if (has_cap(CAP_SYS_RAWIO) != 1)
		SKIP(return, "no CAP_SYS_RAWIO");
	if (model_device())
		SKIP(return, "a model device has no portal page");
	if (!has_attr("mmap_delay_ms"))
		SKIP(return, "no mmap_delay_ms (debugfs)");
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	ASSERT_EQ(0, attr_write("mmap_delay_ms", "2000"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		nanosleep(&ts, NULL);
		_exit(attr_write(rel, "0") ? 1 : 0);
	}
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	/* The disable finished while the mmap() was held, not after it. */
	snprintf(state_rel, sizeof(state_rel), "wq%d/state", variant->wq);
	ridxd_attr_read_str(dev_index(), state_rel, state, sizeof(state));
	EXPECT_EQ(0, attr_write("mmap_delay_ms", "0"));
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_STREQ("disabled", state) TH_LOG("the disable did not finish during the mmap()");
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s (the WQ was disabled before it)",
					  strerror(errno));
	EXPECT_EQ(1, load_faults(map)) TH_LOG("the portal mapping outlived the WQ's disable");
	munmap(map, 4096);
	ASSERT_EQ(0, attr_write(rel, "1"));
}

/*
 * The VMAs a portal mapping becomes: moved by mremap() it keeps working, and is still the
 * file's, taken away at disable. Growing it, or copying it with mremap() from old_len 0 (which
 * a shared mapping otherwise allows), is refused (EFAULT: VM_DONTEXPAND, VM_PFNMAP); a child
 * process does not inherit it (VM_DONTCOPY, which MADV_DOFORK cannot clear on a VM_IO
 * mapping). The fault handler's data goes from the old VMA to the new one (its open and
 * close operations) and is freed with the last.
 */
TEST_F(wq, portal_mapping_moved_not_copied_or_forked)
{
	int *res = map_results();
	void *map, *moved, *hole;
	char rel[32];
	pid_t pid;

	ASSERT_NE(NULL, res);
	if (has_cap(CAP_SYS_RAWIO) != 1)
		SKIP(return, "no CAP_SYS_RAWIO");
	if (model_device())
		SKIP(return, "a model device has no portal page");
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, load_faults(map));
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, hole);
	moved = mremap(map, 4096, 4096, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	ASSERT_EQ(hole, moved) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(0, load_faults(moved));
	EXPECT_EQ(MAP_FAILED, mremap(moved, 4096, 2 * 4096, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(moved, 0, 4096, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, madvise(moved, 4096, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		unsigned char v;

		/* Nothing is mapped there in the child. */
		res[0] = mincore(moved, 4096, &v) ? errno : 0;
		_exit(0);
	}
	ASSERT_EQ(0, child_exit(pid));
	EXPECT_EQ(ENOMEM, res[0]);
	EXPECT_EQ(0, load_faults(moved));
	snprintf(rel, sizeof(rel), "wq%d/enable", variant->wq);
	ASSERT_EQ(0, attr_write(rel, "0"));
	EXPECT_EQ(1, load_faults(moved));
	ASSERT_EQ(0, attr_write(rel, "1"));
	munmap(moved, 4096);
	munmap(res, 4096);
}

/*
 * Per-file counters: wq<M>/file<K>/{pid,cr_faults,cr_fault_failures}, for as long as the file
 * is open.
 */
TEST_F(wq, file_dir_follows_open_and_close)
{
	char rel[64];
	int k = file_id(variant->wq, getpid());

	ASSERT_LE(0, k);
	EXPECT_EQ(getpid(), wq_attr(variant->wq, k, "pid"));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_faults"));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_fault_failures"));

	close(self->fd);
	self->fd = -1;
	snprintf(rel, sizeof(rel), "wq%d/file%d", variant->wq, k);
	EXPECT_FALSE(has_attr(rel));
	EXPECT_EQ(0, file_ids(variant->wq, getpid(), NULL, 0));

	/* A new file starts from zero. */
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd);
	k = file_id(variant->wq, getpid());
	ASSERT_LE(0, k);
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_faults"));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_fault_failures"));
}

TEST_F(wq, file_counters)
{
	const int n = 3;
	char *src = self->buf, *dst = self->buf + 4096, *crs = map_pages(n), *none;
	struct dsa_hw_desc d;
	int i, k = file_id(variant->wq, getpid());
	long want = variant->prs_disable ? n : 0;

	ASSERT_LE(0, k);
	ASSERT_NE(NULL, crs);
	fill_bytes(src, 64, 6);
	/* N CRs in never-touched pages: the driver writes them (PRS off). */
	for (i = 0; i < n; i++) {
		memmove_desc(&d, src, dst, 64, crs + i * 4096);
		ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
		ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)(crs + i * 4096))) TH_LOG("CR %d", i);
	}
	ASSERT_EQ(-1, first_diff(src, dst, 64));
	EXPECT_EQ(want, wq_attr_wait(variant->wq, k, "cr_faults", want));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_fault_failures"));
	munmap(crs, n * 4096);
	if (!variant->prs_disable)
		return;

	/* A CR the driver cannot write. */
	none = map_none();
	ASSERT_NE(NULL, none);
	memmove_desc(&d, src, dst, 64, none);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(1, wq_attr_wait(variant->wq, k, "cr_fault_failures", 1));
	/* (What cr_faults counts here: unwritable_records_count_as_failures.) */
	munmap(none, 4096);
}

/*
 * Two files on a shared WQ, of two processes: each has its own counters. (The fault path knows
 * a CR's owner by its PASID: a process's faults go to its oldest file open on the WQ.)
 */
TEST_F(wq, file_counters_separate_per_process)
{
	const int n = 3;
	volatile struct dsa_completion_record *cr = (void *)(self->buf + 5 * 4096);
	struct dsa_hw_desc d;
	int ready[2], go[2], k, kc;
	long want = variant->prs_disable ? n : 0, want1 = variant->prs_disable ? 1 : 0;
	char c, rel[64];
	pid_t pid;

	if (variant->wq == 0)
		SKIP(return, "a dedicated WQ admits one opener");
	k = file_id(variant->wq, getpid());
	ASSERT_LE(0, k);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *crs = map_pages(n), *data = map_pages(2);
		int fd = wq_open(variant->wq);

		close(ready[0]);
		close(go[1]);
		if (fd < 0 || !crs || !data)
			_exit(1);
		memset(data, 7, 2 * 4096);
		for (int i = 0; i < n; i++) {
			memmove_desc(&d, data, data + 4096, 64, crs + i * 4096);
			if (write(fd, &d, sizeof(d)) != sizeof(d))
				_exit(2);
			if (wait_cr((void *)(crs + i * 4096)) != DSA_COMP_SUCCESS)
				_exit(3);
		}
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		close(fd);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	kc = file_id(variant->wq, pid);
	ASSERT_LE(0, kc);
	ASSERT_NE(k, kc);
	EXPECT_EQ(pid, wq_attr(variant->wq, kc, "pid"));
	EXPECT_EQ(want, wq_attr_wait(variant->wq, kc, "cr_faults", want));
	EXPECT_EQ(0, wq_attr(variant->wq, kc, "cr_fault_failures"));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_faults"));

	/*
	 * One of this process's own. fork() left its pages copy-on-write: present but read-only,
	 * which a device with PRS off cannot write. Writing them breaks the sharing.
	 */
	memset(self->buf, 0, 4 * 4096);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, (void *)cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	EXPECT_EQ(want1, wq_attr_wait(variant->wq, k, "cr_faults", want1));
	EXPECT_EQ(want, wq_attr(variant->wq, kc, "cr_faults"));

	ASSERT_EQ(1, write(go[1], "g", 1));
	EXPECT_EQ(0, child_exit(pid));
	snprintf(rel, sizeof(rel), "wq%d/file%d", variant->wq, kc);
	EXPECT_FALSE(has_attr(rel));
	EXPECT_EQ(k, file_id(variant->wq, getpid()));
	close(ready[0]);
	close(go[1]);
}

/* Writes VAL to the file at PATH; 0 or -1. */
static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * PASID reuse. A process leaves with CR faults whose event-log entries are still in the ring
 * (the model holds its interrupts back for 300 ms, as hardware may: nothing bounds when a
 * message arrives), and the next opener gets the same PASID at once (PASIDs are handed out
 * lowest-free-first). None of the old process's CRs may be written into the new one: its
 * pages at the old CR addresses keep their canary, and it has no CR faults of its own.
 */
TEST_F(wq, pasid_reuse_canary)
{
	const int n = 16;
	char *crs = map_pages(n);
	int *res = map_results();
	char dev[32], knob[128], delay[16] = "0";
	struct dsa_hw_desc d;
	ssize_t got;
	pid_t pid;
	int k, kfd;

	if (!variant->prs_disable)
		SKIP(return, "needs PRS off: CR faults go to the event log");
	ASSERT_NE(NULL, crs);
	ASSERT_NE(NULL, res);
	ASSERT_EQ(0, ridxd_attr_read_str(dev_index(), "device", dev, sizeof(dev)));
	snprintf(knob, sizeof(knob), DBG "/%s/irq_delay_ms", dev);
	if (access(knob, W_OK))
		SKIP(return, "not a model device (no %s)", knob);
	/* The delay the suite runs with, restored at the end. */
	kfd = open(knob, O_RDONLY);
	ASSERT_LE(0, kfd);
	got = read(kfd, delay, sizeof(delay) - 1);
	close(kfd);
	ASSERT_LT(0, got);
	delay[got] = 0;
	ASSERT_EQ(0, write_file(knob, "300"));
	/* The WQ to the child, if it is dedicated; and this process's PASID freed. */
	close(self->fd);
	self->fd = -1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* crs was never touched before fork(): its pages are absent here too. */
		char *data = map_pages(2);
		int fd = wq_open(variant->wq);

		if (fd < 0 || !data)
			_exit(1);
		memset(data, 3, 2 * 4096);
		k = file_id(variant->wq, getpid());
		res[0] = k < 0 ? -1 : wq_attr(variant->wq, k, "pasid");
		for (int i = 0; i < n; i++) {
			memmove_desc(&d, data, data + 4096, 64, crs + i * 4096 + 64);
			if (write(fd, &d, sizeof(d)) != sizeof(d))
				_exit(2);
		}
		/* Leave with the faults in flight. */
		_exit(0);
	}
	EXPECT_EQ(0, child_exit(pid));
	/* At once: the next opener, with its own data where the child's CRs were. */
	self->fd = wq_open(variant->wq);
	ASSERT_LE(0, self->fd) TH_LOG("open: %s", strerror(errno));
	memset(crs, 0xc3, n * 4096);
	k = file_id(variant->wq, getpid());
	ASSERT_LE(0, k);
	ASSERT_LT(0, res[0]);
	EXPECT_EQ(res[0], wq_attr(variant->wq, k, "pasid")) TH_LOG("the PASID was not reused");
	/* Long enough for every held interrupt to arrive and its entries to be handled. */
	usleep(1000 * 1000);
	EXPECT_EQ(-1, first_not(crs, 0xc3, n * 4096));
	EXPECT_EQ(0, wq_attr(variant->wq, k, "cr_faults"));
	EXPECT_EQ(0, write_file(knob, delay));
	munmap(crs, n * 4096);
	munmap(res, 4096);
}

FIXTURE(cycles) {};
FIXTURE_SETUP(cycles) {}
FIXTURE_TEARDOWN(cycles) {}

/*
 * Opens and closes, alternating dedicated and shared WQ (the dedicated one only where shared
 * WQs cannot be used); nobody left behind. 10,000 of them, or RIDXD_CYCLES (the debug guest
 * runs fewer: with lockdep, KASAN and kmemleak and the model's interrupts 1 ms late, 10,000
 * took 352 s there).
 */
TEST_F_TIMEOUT(cycles, open_close, 900)
{
	const char *env = getenv("RIDXD_CYCLES");
	int n = env ? atoi(env) : 10000, wqs = shared_wqs_usable() ? 2 : 1;
	struct timespec t0, t1;

	ASSERT_LT(0, n);
	enable_wqs();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		int fd = wq_open(i % wqs);

		ASSERT_LE(0, fd) TH_LOG("cycle %d: %s", i, strerror(errno));
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("%d open/close cycles in %.1f s", n,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	EXPECT_EQ(0, attr_read("wq0/clients"));
	if (wqs == 2)
		EXPECT_EQ(0, attr_read("wq1/clients"));
}

/*
 * The device's PCI function removed (its sysfs "remove", as a hot unplug) while a file is open
 * on its dedicated WQ 0, with the portal mapped where the process may map it: the removal
 * finishes; the file answers ENODEV to write and mmap, POLLERR | POLLHUP to poll; the mapping
 * is taken away (SIGBUS); nothing is written to the CR of a descriptor refused after it;
 * close is clean (the SVA bond went with the device's binding). It removes the device it runs
 * on, so it runs only when RIDXD_PCI_REMOVE is set (dsa-kselftest.sh sets it, then rescans).
 */
TEST(pci_function_removed_with_files_open)
{
	struct pollfd p = { .events = POLLIN };
	struct dsa_completion_record *cr;
	char bus[64], path[160];
	void *map = MAP_FAILED;
	struct dsa_hw_desc d;
	struct stat st;
	char *buf;
	int fd;

	if (!getenv("RIDXD_PCI_REMOVE"))
		SKIP(return, "it removes the PCI function: set RIDXD_PCI_REMOVE=1 to run it");
	if (model_device())
		SKIP(return, "not a PCI device");
	ASSERT_EQ(0, ridxd_attr_read_str(dev_index(), "device", bus, sizeof(bus)));
	fd = wq_open(0);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	buf = map_pages(4);
	ASSERT_NE(NULL, buf);
	memset(buf, 0x11, 3 * 4096);
	cr = (void *)(buf + 2 * 4096);
	memset(cr, 0, sizeof(*cr));
	memmove_desc(&d, buf, buf + 4096, 256, cr);
	ASSERT_EQ(sizeof(d), write(fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
	if (has_cap(CAP_SYS_RAWIO) == 1) {
		map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
		EXPECT_EQ(0, load_faults(map));
	}

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bus);
	ASSERT_EQ(0, ridxd_write_file(path, "1"));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bus);
	EXPECT_NE(0, stat(path, &st));
	memset(cr, 0, sizeof(*cr));
	EXPECT_EQ(-1, write(fd, &d, sizeof(d)));
	EXPECT_EQ(ENODEV, errno);
	p.fd = fd;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLERR | POLLHUP, p.revents);
	EXPECT_EQ(ENODEV, mmap_errno(fd, 4096));
	if (map != MAP_FAILED) {
		EXPECT_EQ(1, load_faults(map));
		munmap(map, 4096);
	}
	usleep(100000);
	EXPECT_EQ(0, cr->status);
	EXPECT_EQ(0, close(fd));
	munmap(buf, 4 * 4096);
}

TEST_HARNESS_MAIN
