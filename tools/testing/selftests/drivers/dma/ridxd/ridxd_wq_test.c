// SPDX-License-Identifier: GPL-2.0
/*
 * ridxd user work queues: submission through write(), completion records written by the
 * device or, after a CR page fault with PRS disabled, by the driver.
 *
 * Expects ridxd loaded with a DSA 2.0 model device as dsa1 (sim_dsa1=1 sim_dsa2=1) in the
 * default configuration: wq1.0 dedicated, wq1.1 shared. RIDXD_DEV overrides "1".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/idxd.h>

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

static int attr_write(const char *rel, const char *val)
{
	return ridxd_attr_write(dev_index(), rel, val);
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
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), DBG "/dsa%s/%s", dev_index(), rel);
	return stat(path, &st) == 0;
}

FIXTURE_SETUP(wq)
{
	char rel[32];

	/* DSA 1.0 has no PRS disable: the attribute is absent, the PRS-off cases do not apply. */
	snprintf(rel, sizeof(rel), "wq%d/prs_disable", variant->wq);
	if (!has_attr(rel) && variant->prs_disable)
		SKIP(return, "no per-WQ PRS disable on this device");

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

	memset(&d, 0, sizeof(d));
	d.opcode = DSA_OPCODE_NOOP;
	d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	d.completion_addr = (uintptr_t)cr;
	memset((void *)cr, 0, 32);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr(cr));
}

/*
 * Batches (accel-config's event-log cases): a sub-descriptor's CR in an absent page (1a.0),
 * the same when it cannot be written (1a.1: the batch CR says batch-fail, result 1), and an
 * unreadable descriptor list (6a: batch page fault).
 */
TEST_F(wq, batches)
{
	struct dsa_hw_desc list[2], b;
	char *data = self->buf + 4096;
	volatile struct dsa_completion_record *bcr = (void *)(self->buf + 3 * 4096);
	char *absent = self->buf + 5 * 4096;
	char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, none);
	memmove_desc(&list[0], data, data + 1024, 256, absent);
	memset(&list[1], 0, sizeof(list[1]));
	list[1].opcode = DSA_OPCODE_NOOP;
	list[1].flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	list[1].completion_addr = (uintptr_t)(self->buf + 3 * 4096 + 64);
	memcpy(self->buf, list, sizeof(list));

	memset(&b, 0, sizeof(b));
	b.opcode = DSA_OPCODE_BATCH;
	b.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	b.desc_list_addr = (uintptr_t)self->buf;
	b.desc_count = 2;
	b.completion_addr = (uintptr_t)bcr;

	/* 1a.0 */
	memset((void *)bcr, 0, 32);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr(bcr));
	EXPECT_EQ(2, bcr->bytes_completed); /* descs_completed in newer uapi headers */
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)absent));

	/* 1a.1: only with PRS off is the sub-descriptor's CR left to the driver. */
	if (variant->prs_disable) {
		list[0].completion_addr = (uintptr_t)none;
		memcpy(self->buf, list, sizeof(list));
		memset((void *)bcr, 0, 32);
		ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
		ASSERT_EQ(DSA_COMP_BATCH_FAIL, wait_cr(bcr));
		EXPECT_EQ(1, bcr->result);
	}

	/* 6a: the list is not readable. */
	b.desc_list_addr = (uintptr_t)none;
	memset((void *)bcr, 0, 32);
	ASSERT_EQ(sizeof(b), write(self->fd, &b, sizeof(b)));
	if (variant->prs_disable) {
		ASSERT_EQ(DSA_COMP_BATCH_PAGE_FAULT, wait_cr(bcr));
		EXPECT_EQ((uintptr_t)none, bcr->fault_addr);
	} else {
		/* PRS on: the page request fails for PROT_NONE; the device reports the fault too. */
		ASSERT_EQ(DSA_COMP_BATCH_PAGE_FAULT, wait_cr(bcr));
	}
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
	ASSERT_EQ(4096, cr->bytes_completed);
	ASSERT_EQ(0, memcmp(src, dst, 4096));
}

/* CRs in a never-touched page and in a MADV_DONTNEED page. */
TEST_F(wq, memmove_cr_in_absent_pages)
{
	struct dsa_hw_desc d;
	char *src = self->buf, *dst = self->buf + 4096;
	char *fresh = self->buf + 5 * 4096, *dropped = self->buf + 6 * 4096;
	char rel[32];
	long faults0;

	snprintf(rel, sizeof(rel), "wq%d/cr_faults", variant->wq);
	faults0 = attr_read(rel);
	for (int i = 0; i < 512; i++)
		src[i] = (char)(i ^ 0x5a);
	dropped[0] = 1;
	ASSERT_EQ(0, madvise(dropped, 4096, MADV_DONTNEED));

	memmove_desc(&d, src, dst, 512, fresh);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)fresh));
	ASSERT_EQ(512, ((struct dsa_completion_record *)fresh)->bytes_completed);

	memmove_desc(&d, src, dst + 1024, 256, dropped + 64);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	ASSERT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)(dropped + 64)));
	ASSERT_EQ(0, memcmp(src, dst + 1024, 256));
	/* With PRS off the driver wrote both records; with PRS on the device faulted them in. */
	EXPECT_EQ(faults0 + (variant->prs_disable ? 2 : 0), attr_read(rel));
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
	char rel[32];
	long faults0, wq_size;
	int i;

	ASSERT_NE(NULL, crs);
	snprintf(rel, sizeof(rel), "wq%d/size", variant->wq);
	wq_size = attr_read(rel);
	ASSERT_LT(0, wq_size);
	snprintf(rel, sizeof(rel), "wq%d/cr_faults", variant->wq);
	faults0 = attr_read(rel);
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
	EXPECT_EQ(faults0 + (variant->prs_disable ? n : 0), attr_read(rel));
	munmap(crs, n * 4096);
}

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
	/* A reserved opcode completes with an error status. */
	memset(cr, 0, 32);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	d.opcode = 0x0a;
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_BAD_OPCODE, wait_cr((void *)cr));
	/* The WQ still works. */
	memset(cr, 0, 32);
	memmove_desc(&d, self->buf, self->buf + 4096, 64, cr);
	ASSERT_EQ(sizeof(d), write(self->fd, &d, sizeof(d)));
	EXPECT_EQ(DSA_COMP_SUCCESS, wait_cr((void *)cr));
}

/*
 * A descriptor written through a file descriptor inherited by another process. (The parent's
 * pages are copy-on-write afterwards; this test writes nothing after the fork.)
 */
TEST_F(wq, other_process_gets_eperm)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dsa_hw_desc d;

		memmove_desc(&d, self->buf, self->buf + 4096, 64, self->buf + 3 * 4096);
		_exit(write(self->fd, &d, sizeof(d)) == -1 && errno == EPERM ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Enables both WQs (an error only means one already was). */
static void enable_wqs(void)
{
	attr_write("wq0/enable", "1");
	attr_write("wq1/enable", "1");
}

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

/* A process killed with completion-record faults in flight: nothing else is harmed. */
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
		int fd = wq_open(variant->wq);
		char *crs = map_pages(64), *data = map_pages(2);

		if (fd < 0 || !crs || !data)
			_exit(1);
		memset(data, 1, 2 * 4096);
		for (int i = 0; i < 64; i++) {
			memmove_desc(&d, data, data + 4096, 2048, crs + i * 4096);
			if (write(fd, &d, sizeof(d)) != sizeof(d) && errno != EAGAIN)
				_exit(1);
		}
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
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

FIXTURE(cycles) {};
FIXTURE_SETUP(cycles) {}
FIXTURE_TEARDOWN(cycles) {}

/* 10,000 opens and closes, alternating dedicated and shared WQ; nobody left behind. */
TEST_F_TIMEOUT(cycles, open_close_10000, 900)
{
	struct timespec t0, t1;

	enable_wqs();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 10000; i++) {
		int fd = wq_open(i & 1);

		ASSERT_LE(0, fd) TH_LOG("cycle %d: %s", i, strerror(errno));
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("10000 open/close cycles in %.1f s",
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	EXPECT_EQ(0, attr_read("wq0/clients"));
	EXPECT_EQ(0, attr_read("wq1/clients"));
}

TEST_HARNESS_MAIN
