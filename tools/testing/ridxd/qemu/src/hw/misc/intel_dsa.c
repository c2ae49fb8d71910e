/*
 * Intel DSA (Data Streaming Accelerator) PCIe device, DSA 1.0 and DSA 2.0.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Written for the ridxd project (tools/testing/ridxd/qemu/) from these facts:
 *  [R]  Linux drivers/dma/idxd/registers.h: BAR0 register offsets and field
 *       layouts, command codes and command-status codes, EVL entry layout;
 *  [U]  Linux include/uapi/linux/idxd.h: descriptor and completion record
 *       (CR) layouts, opcodes, descriptor flags, completion status codes;
 *  [P]  the ridxd in-kernel device model (drivers/dma/ridxd/sim/): the
 *       capability values (sizes, OPCAP, CMDCAP, table offsets), so that
 *       this device and the model present the same hardware;
 *  [S]  the Intel DSA Architecture Specification (rev. 2.0): the portal
 *       layout (4 pages per WQ: unlimited/limited MSI-X, unlimited/limited
 *       IMS), MSI-X vector 0 for device events, CR write ordering (status
 *       byte last), partial completion on page faults.
 *  [A]  accel-config 4.1.9's tests (test/dsa_config_test_runner.sh): which
 *       DSA versions have per-WQ operation configuration (op_config).
 * Where a behaviour is this device's own choice it says "model:".
 *
 * What is modelled: the register file with its write rules, the commands,
 * SWERR, the event log (2.0), MSI-X, PCIe PASID (20 bits) and ATS, BAR2
 * portals, and a descriptor engine for NOOP, BATCH, DRAIN, MEMMOVE, MEMFILL,
 * COMPARE and COMPVAL on PASID-tagged addresses, each page translated with
 * an ATS translation request to the IOMMU.  Descriptors run to completion
 * when their last byte reaches a portal (no timing, no queueing, no
 * occupancy).  PRI (PCIe Page Request Interface, when the OS enables it):
 * on a WQ with PRS on, a page that does not translate is requested from
 * the IOMMU and the engine stalls until the page group response [S] -- for
 * a CR always, for source/destination/batch-list pages when the descriptor
 * asks to block on fault (flag BOF, WQCFG.bof) -- and other descriptors
 * queue behind it; otherwise (or when the request fails) the descriptor
 * ends in a partial completion, and a CR that does not translate goes to
 * the event log (2.0) or SWERR (1.0).
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/units.h"
#include "qemu/range.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "system/memory.h"
#include "system/address-spaces.h"
#include "qom/object.h"

#define TYPE_INTEL_DSA "intel-dsa"
OBJECT_DECLARE_SIMPLE_TYPE(IntelDSAState, INTEL_DSA)

/* PCI identity: 8086:0b25 is DSA [R: PCI_DEVICE_ID_INTEL_DSA_SPR0 in
 * include/linux/pci_ids.h]; class 0x0880 "other system peripheral". */
#define DSA_DEVICE_ID          0x0b25
#define DSA_CLASS              0x0880

/* Sizes [P: sim/personality.rs] */
#define DSA_NUM_WQS            8
#define DSA_NUM_GROUPS         4
#define DSA_NUM_ENGINES        4
#define DSA_TOTAL_WQ_SIZE      128
#define DSA_MAX_XFER_SHIFT     21
#define DSA_MAX_BATCH_SHIFT    10
#define DSA_TOTAL_RDBUFS       96
#define DSA_NUM_VECTORS        (1 + DSA_NUM_WQS)   /* 0: misc, 1..8: WQs */

/* BAR0 layout [R] */
#define DSA_BAR0_SIZE          (64 * KiB)
#define R_VERSION              0x00
#define R_GENCAP               0x10
#define R_WQCAP                0x20
#define R_GRPCAP               0x30
#define R_ENGCAP               0x38
#define R_OPCAP                0x40     /* 4 x 64 bits */
#define R_TABLE_OFFSETS        0x60     /* 2 x 64 bits, units of 0x100 */
#define R_GENCFG               0x80
#define R_GENCTRL              0x88
#define R_GENSTS               0x90
#define R_INTCAUSE             0x98
#define R_CMD                  0xa0
#define R_CMDSTS               0xa8
#define R_CMDCAP               0xb0
#define R_SWERR                0xc0     /* 4 x 64 bits */
#define R_EVLCFG               0xe0     /* 2 x 64 bits, DSA 2.0 */
#define R_EVLSTATUS            0xf0     /* 64 bits, DSA 2.0 */
#define R_DSACAP0              0x180
/*
 * model: a test-only register, not in [R] (in BAR0's register range, where
 * no DSA register is): a write of V halts the device as an internal error
 * would (GENSTS.state HALT, GENSTS.reset_type V & 3, INTCAUSE.halt_state,
 * vector 0 when GENCTRL.halt_int_en), so that a test can see what a driver
 * does about a halt (guest/dsa-idxd.sh).  Reads the number of halts it made
 * (no reset clears it).
 */
#define R_TEST_HALT            0x1f00
/* Tables [P]: GRPCFG at 0x400, WQCFG at 0x500, MSI-X permissions at 0x700 */
#define TABLE_MULT             0x100
#define R_GRPCFG               0x400
#define GRPCFG_SIZE            64
#define R_WQCFG                0x500
#define R_MSIX_PERM            0x700
/* model: the MSI-X table and PBA live in BAR0 above the registers */
#define R_MSIX_TABLE           0x2000
#define R_MSIX_PBA             0x3000

/* BAR2: 4 portal pages per WQ [S; R: idxd_get_wq_portal_full_offset] */
#define PORTAL_PAGE            4096
#define PORTALS_PER_WQ         4
#define DSA_BAR2_SIZE          (DSA_NUM_WQS * PORTALS_PER_WQ * PORTAL_PAGE)

/* VERSION [R: DEVICE_VERSION_1/2] */
#define DSA_VERSION_1          0x100
#define DSA_VERSION_2          0x200

/* GENCAP fields [R: union gen_cap_reg] */
#define GENCAP_BOF             (1ULL << 0)
#define GENCAP_CC_MEM          (1ULL << 2)
#define GENCAP_CC_CACHE        (1ULL << 3)
#define GENCAP_CMD_CAP         (1ULL << 4)
#define GENCAP_EVL_SHIFT       13
#define GENCAP_XFER_SHIFT      16
#define GENCAP_BATCH_SHIFT     21
#define GENCAP_CONFIG_EN       (1ULL << 31)

/* WQCAP fields [R: union wq_cap_reg] */
#define WQCAP_CFG_SIZE_SHIFT   24
#define WQCAP_SHARED           (1ULL << 48)
#define WQCAP_DEDICATED        (1ULL << 49)
#define WQCAP_ATS              (1ULL << 50)
#define WQCAP_PRIORITY         (1ULL << 51)
#define WQCAP_OCCUPANCY        (1ULL << 52)
#define WQCAP_OP_CONFIG        (1ULL << 54)
#define WQCAP_PRS              (1ULL << 55)

/* GENCFG [R: union gencfg_reg] */
#define GENCFG_RDBUF_LIMIT     0xffu
#define GENCFG_USER_INT_EN     (1u << 12)
#define GENCFG_EVL_EN          (1u << 13)
/* GENCTRL [R: union genctrl_reg] */
#define GENCTRL_SOFTERR_INT_EN (1u << 0)
#define GENCTRL_HALT_INT_EN    (1u << 1)
#define GENCTRL_EVL_INT_EN     (1u << 2)
/* GENSTS [R] */
#define GENSTS_DISABLED        0
#define GENSTS_ENABLED         1
#define GENSTS_HALT            3
#define GENSTS_RESET_TYPE_SHIFT 2          /* bits 3:2 [R: union gensts_reg] */
#define RESET_TYPE_SOFTWARE    0           /* [R: IDXD_DEVICE_RESET_SOFTWARE] */
/* INTCAUSE [R: IDXD_INTC_*] */
#define INTC_ERR               0x01
#define INTC_CMD               0x02
#define INTC_HALT_STATE        0x10
#define INTC_EVL               0x20

/* Commands [R: enum idxd_cmd] */
enum {
    CMD_ENABLE_DEVICE = 1,
    CMD_DISABLE_DEVICE,
    CMD_DRAIN_ALL,
    CMD_ABORT_ALL,
    CMD_RESET_DEVICE,
    CMD_ENABLE_WQ,
    CMD_DISABLE_WQ,
    CMD_DRAIN_WQ,
    CMD_ABORT_WQ,
    CMD_RESET_WQ,
    CMD_DRAIN_PASID,
    CMD_ABORT_PASID,
};
/* CMDCAP [P]: commands 1..12 */
#define DSA_CMDCAP             (((1u << 13) - 1) & ~1u)

/* Command status [R: enum idxd_cmdsts_err] */
enum {
    CMDSTS_SUCCESS = 0,
    CMDSTS_INVAL_CMD = 0x01,
    CMDSTS_INVAL_WQIDX = 0x02,
    CMDSTS_ERR_DEV_ENABLED = 0x10,
    CMDSTS_ERR_CONFIG = 0x11,
    CMDSTS_ERR_BUSMASTER_EN = 0x12,
    CMDSTS_ERR_PASID_INVAL = 0x13,
    CMDSTS_ERR_WQ_SIZE_ERANGE = 0x14,
    CMDSTS_ERR_GRP_CONFIG = 0x15,
    CMDSTS_ERR_GRP_CONFIG2 = 0x16,
    CMDSTS_ERR_GRP_CONFIG3 = 0x17,
    CMDSTS_ERR_DEV_NOTEN = 0x20,
    CMDSTS_ERR_WQ_ENABLED = 0x21,
    CMDSTS_ERR_WQ_SIZE = 0x22,
    CMDSTS_ERR_WQ_MODE = 0x24,
    CMDSTS_ERR_BOF_EN = 0x25,
    CMDSTS_ERR_PASID_EN = 0x26,
    CMDSTS_ERR_MAX_BATCH_SIZE = 0x27,
    CMDSTS_ERR_MAX_XFER_SIZE = 0x28,
    CMDSTS_ERR_DIS_DEV_EN = 0x31,
    CMDSTS_ERR_DEV_NOT_EN = 0x32,
};

/* WQCFG dwords [R: union wqcfg] */
#define WQCFG_SIZE_IDX         0
#define WQCFG_THRESH_IDX       1
#define WQCFG_MODE_IDX         2
#define WQCFG_LIMITS_IDX       3
#define WQCFG_STATE_IDX        6
#define WQCFG_OPCFG_IDX        8           /* dwords 8-15: op_config[4] */
#define WQCFG_OPCFG_DWORDS     8
#define WQCFG_MODE_DEDICATED   (1u << 0)
#define WQCFG_BOF              (1u << 1)
#define WQCFG_ATS_DISABLE      (1u << 2)
#define WQCFG_PRS_DISABLE      (1u << 3)
#define WQCFG_PASID_SHIFT      8
#define WQCFG_PASID_EN         (1u << 28)
#define WQCFG_PRIV             (1u << 29)
#define WQCFG_MODE_SUPPORT     (1u << 29)  /* in dword 6 */
#define WQCFG_STATE_SHIFT      30          /* dword 6 bits 31:30 */

/* GRPCFG flags bits kept [R: union group_flags] */
#define GRPFLAGS_MASK  (0x3fULL | 1ULL << 7 | 0xffULL << 8 | 0xffULL << 20 | \
                        0x3ULL << 32 | 0x3ULL << 36)

/* SWERR qword 0 [R: union sw_err_reg] */
#define SWERR_VALID            (1ULL << 0)
#define SWERR_OVERFLOW         (1ULL << 1)
#define SWERR_DESC_VALID       (1ULL << 2)
#define SWERR_WQ_IDX_VALID     (1ULL << 3)
#define SWERR_BATCH            (1ULL << 4)
#define SWERR_FAULT_RW         (1ULL << 5)
#define SWERR_PRIV             (1ULL << 6)

/* EVLSTATUS upper dword: int_pending is bit 30 [R: union evl_status_reg] */
#define EVL_INT_PENDING        (1u << 30)
#define EVL_SIZE_MIN           64
#define EVL_ENTRY_SIZE         64      /* 32 << GENCAP.evl_support (1) */

/* Opcodes [U: enum dsa_opcode] */
enum {
    OP_NOOP = 0,
    OP_BATCH = 1,
    OP_DRAIN = 2,
    OP_MEMMOVE = 3,
    OP_MEMFILL = 4,
    OP_COMPARE = 5,
    OP_COMPVAL = 6,
};

/* Descriptor flags [U: IDXD_OP_FLAG_*] */
#define F_FENCE                0x0001
#define F_BOF                  0x0002
#define F_CRAV                 0x0004
#define F_RCR                  0x0008
#define F_RCI                  0x0010
#define F_CRSTS                0x0020
#define F_CR                   0x0080  /* check result */
#define F_CC                   0x0100
/* model: DSA defines flag bits 15:0; bits 23:16 are IAA's, invalid here */
#define F_VALID                0xffffu

/* Completion status [U: enum dsa_completion_status] */
enum {
    ST_SUCCESS = 0x01,
    ST_SUCCESS_PRED = 0x02,
    ST_PAGE_FAULT_NOBOF = 0x03,
    /* status bit 7: the faulting access was a write [U: DSA_COMP_STATUS_WRITE] */
    ST_WRITE_FAULT = 0x80,
    ST_BATCH_FAIL = 0x05,
    ST_BATCH_PAGE_FAULT = 0x06,
    ST_BAD_OPCODE = 0x10,
    ST_INVALID_FLAGS = 0x11,
    ST_NOZERO_RESERVE = 0x12,
    ST_XFER_ERANGE = 0x13,
    ST_DESC_CNT_ERANGE = 0x14,
    ST_OVERLAP_BUFFERS = 0x16,
    ST_DESCLIST_ALIGN = 0x18,
    ST_INT_HANDLE_INVAL = 0x19,
    ST_CRA_XLAT = 0x1a,
    ST_CRA_ALIGN = 0x1b,
    ST_BATCH_EVL_ERR = 0x27,
};

#define DSA_CR_SIZE            32
#define DSA_DESC_SIZE          64
#define DSA_PASID_BITS         20

/* A descriptor [U: struct dsa_hw_desc], decoded. */
typedef struct DSADesc {
    uint32_t pasid;
    bool priv;
    uint32_t flags;
    uint8_t opcode;
    uint64_t cr_addr;
    uint64_t src;          /* src_addr / pattern / desc_list_addr */
    uint64_t dst;          /* dst_addr / src2_addr / comp_pattern */
    uint32_t size;         /* xfer_size / desc_count */
    uint16_t int_handle;
    uint8_t expected_res;
    uint8_t raw[DSA_DESC_SIZE];
} DSADesc;

/* Where a descriptor came from: the WQ, and its batch if any. */
typedef struct DSACtx {
    int wq;
    bool pasid_en;
    uint32_t pasid;
    bool priv;
    bool in_batch;
    uint8_t batch_id;
    uint16_t batch_idx;
} DSACtx;

/* A completion record [U: struct dsa_completion_record], first 32 bytes. */
typedef struct DSACR {
    uint8_t status;
    uint8_t result;
    uint8_t fault_info;
    uint32_t bytes_completed;
    uint64_t fault_addr;
    uint32_t invalid_flags;
} DSACR;

/* A descriptor that arrived while the engine was stalled [S]. */
typedef struct DSAQueued {
    uint8_t wq;
    uint32_t mode;         /* WQCFG's mode dword when it arrived */
    uint8_t raw[DSA_DESC_SIZE];
} DSAQueued;

/* model: descriptors that wait behind a stalled engine, over all WQs */
#define DSA_QUEUE_LEN          DSA_TOTAL_WQ_SIZE

typedef struct DSAPortal {
    uint64_t buf[8];
    uint8_t have;          /* bit i: qword i of the 64-byte chunk arrived */
    uint32_t chunk;        /* offset of the chunk being assembled */
} DSAPortal;

struct IntelDSAState {
    PCIDevice parent_obj;

    MemoryRegion bar0;
    MemoryRegion regs;
    MemoryRegion bar2;

    char *version_str;
    bool dsa2;
    bool pri;

    uint32_t gencfg;
    uint32_t genctrl;
    uint32_t gensts;
    uint8_t reset_type;    /* GENSTS.reset_type while halted */
    uint32_t test_halts;   /* halts made through R_TEST_HALT */
    uint32_t intcause;
    uint32_t cmdsts;
    uint64_t swerr[4];
    uint64_t evlcfg[2];
    uint16_t evl_head;
    uint16_t evl_tail;
    bool evl_int_pending;
    uint32_t wqcfg[DSA_NUM_WQS][16];
    uint64_t grpcfg[DSA_NUM_GROUPS][8];
    uint32_t msix_perm[DSA_NUM_VECTORS][2];
    DSAPortal portal[DSA_NUM_WQS * PORTALS_PER_WQ];
    uint8_t next_batch_id;

    /*
     * The engine runs descriptors in a coroutine, which yields while a page
     * request is outstanding (the engine stalls); descriptors that arrive
     * meanwhile wait in the queue.
     */
    Coroutine *engine;
    DSAQueued queue[DSA_QUEUE_LEN];
    unsigned queue_head, queue_len;
    unsigned queued[DSA_NUM_WQS];
    bool blk_data;         /* this descriptor's data faults may page-request */
    bool blk_cr;           /* this descriptor's CR faults may page-request */
    bool dma_block;        /* the access being made may page-request */
    bool stalled;          /* waiting for the page group response */
    bool no_stall;         /* a command ends the waits: finish without them */
    uint16_t prgi, next_prgi;
    IOMMUPRIResponseCode pri_rc;
    IOMMUPRINotifier pri_notifier;
    QEMUBH *pri_bh;
    uint64_t page_requests;
    /*
     * A command that stops, drains or aborts work, written while the engine
     * waited for a page group response: it completes once the engine is
     * idle (or, should no response come, after DSA_CMD_WAIT_MS).
     */
    bool cmd_deferred;
    uint32_t cmd_val;
    QEMUBH *cmd_bh;
    QEMUTimer *cmd_timer;
};

/* model: how long a deferred command waits for the page group response */
#define DSA_CMD_WAIT_MS        2000
#define CMDSTS_ACTIVE          (1u << 31)   /* [R: union cmdsts_reg] */

/* ---- capabilities ---- */

static uint32_t dsa_version(IntelDSAState *s)
{
    return s->dsa2 ? DSA_VERSION_2 : DSA_VERSION_1;
}

static uint64_t dsa_gencap(IntelDSAState *s)
{
    /* [P]: block-on-fault, cache control, CMDCAP, configurable, 2 MiB
     * transfers, 1024-descriptor batches, 64-byte EVL entries on 2.0. */
    return GENCAP_BOF | GENCAP_CC_MEM | GENCAP_CC_CACHE | GENCAP_CMD_CAP |
           GENCAP_CONFIG_EN |
           ((uint64_t)(s->dsa2 ? 1 : 0) << GENCAP_EVL_SHIFT) |
           ((uint64_t)DSA_MAX_XFER_SHIFT << GENCAP_XFER_SHIFT) |
           ((uint64_t)DSA_MAX_BATCH_SHIFT << GENCAP_BATCH_SHIFT);
}

static uint64_t dsa_wqcap(IntelDSAState *s)
{
    /* [P]: 32-byte WQCFG entries on 1.0, 64-byte ones on 2.0; per-WQ
     * operation configuration (OPCFG) on 2.0 only [A: accel-config's
     * dsa_config_test_runner.sh expects op_config on every device but a
     * version 0x100 one] */
    return DSA_TOTAL_WQ_SIZE | (uint64_t)DSA_NUM_WQS << 16 |
           (uint64_t)(s->dsa2 ? 1 : 0) << WQCAP_CFG_SIZE_SHIFT |
           WQCAP_SHARED | WQCAP_DEDICATED | WQCAP_ATS | WQCAP_PRIORITY |
           WQCAP_OCCUPANCY | (s->dsa2 ? WQCAP_PRS | WQCAP_OP_CONFIG : 0);
}

static uint64_t dsa_grpcap(void)
{
    return DSA_NUM_GROUPS | (uint64_t)DSA_TOTAL_RDBUFS << 8;
}

static uint64_t dsa_opcap0(void)
{
    return 1ULL << OP_NOOP | 1ULL << OP_BATCH | 1ULL << OP_DRAIN |
           1ULL << OP_MEMMOVE | 1ULL << OP_MEMFILL | 1ULL << OP_COMPARE |
           1ULL << OP_COMPVAL;
}

static uint64_t dsa_table_offsets0(void)
{
    return (R_GRPCFG / TABLE_MULT) | (uint64_t)(R_WQCFG / TABLE_MULT) << 16 |
           (uint64_t)(R_MSIX_PERM / TABLE_MULT) << 32;
}

static unsigned dsa_wqcfg_stride(IntelDSAState *s)
{
    return s->dsa2 ? 64 : 32;
}

/* OPCAP dword I (0..7) */
static uint32_t dsa_opcap_dword(unsigned i)
{
    return i == 0 ? (uint32_t)dsa_opcap0() : i == 1 ? dsa_opcap0() >> 32 : 0;
}

/* ---- state helpers ---- */

static bool dsa_enabled(IntelDSAState *s)
{
    return s->gensts == GENSTS_ENABLED;
}

static bool wq_enabled(IntelDSAState *s, int wq)
{
    return (s->wqcfg[wq][WQCFG_STATE_IDX] >> WQCFG_STATE_SHIFT) == 1;
}

static void wq_set_enabled(IntelDSAState *s, int wq, bool on)
{
    uint32_t *d = &s->wqcfg[wq][WQCFG_STATE_IDX];

    *d = (*d & ~(3u << WQCFG_STATE_SHIFT)) |
         (on ? 1u << WQCFG_STATE_SHIFT : 0);
}

static int wq_group(IntelDSAState *s, int wq)
{
    int g, found = -1;

    for (g = 0; g < DSA_NUM_GROUPS; g++) {
        if (s->grpcfg[g][0] & (1ULL << wq)) {
            if (found >= 0) {
                return -1;
            }
            found = g;
        }
    }
    return found;
}

static bool evl_enabled(IntelDSAState *s)
{
    return s->dsa2 && (s->gencfg & GENCFG_EVL_EN);
}

static uint16_t evl_size(IntelDSAState *s)
{
    return s->evlcfg[1] & 0xffff;
}

static void dsa_wqcfg_reset(IntelDSAState *s, int wq)
{
    unsigned i;

    memset(s->wqcfg[wq], 0, sizeof(s->wqcfg[wq]));
    /* [R: wqcfg.mode_support]: both modes on every WQ */
    s->wqcfg[wq][WQCFG_STATE_IDX] = WQCFG_MODE_SUPPORT;
    /* model: OPCFG resets to OPCAP, every operation allowed (idxd writes
     * it at each WQ configuration, so no driver we know depends on it) */
    if (s->dsa2) {
        for (i = 0; i < WQCFG_OPCFG_DWORDS; i++) {
            s->wqcfg[wq][WQCFG_OPCFG_IDX + i] = dsa_opcap_dword(i);
        }
    }
}

/*
 * Whether WQ WQ runs descriptors of operation OPCODE: on 2.0, only those
 * whose bit is set in the WQ's OPCFG [R: wqcfg.op_config, written from the
 * WQ's op_config by idxd_wq_config_write()].
 */
static bool wq_op_allowed(IntelDSAState *s, int wq, uint8_t opcode)
{
    if (!s->dsa2) {
        return true;
    }
    return s->wqcfg[wq][WQCFG_OPCFG_IDX + opcode / 32] & (1u << (opcode % 32));
}

static void dsa_reset_state(IntelDSAState *s)
{
    int i;

    s->gencfg = 0;
    s->genctrl = 0;
    s->gensts = GENSTS_DISABLED;
    s->reset_type = 0;
    s->cmd_deferred = false;
    if (s->cmd_timer) {
        timer_del(s->cmd_timer);
    }
    s->intcause = 0;
    s->cmdsts = 0;
    memset(s->swerr, 0, sizeof(s->swerr));
    memset(s->evlcfg, 0, sizeof(s->evlcfg));
    s->evl_head = s->evl_tail = 0;
    s->evl_int_pending = false;
    for (i = 0; i < DSA_NUM_WQS; i++) {
        dsa_wqcfg_reset(s, i);
    }
    memset(s->grpcfg, 0, sizeof(s->grpcfg));
    memset(s->msix_perm, 0, sizeof(s->msix_perm));
    memset(s->portal, 0, sizeof(s->portal));
}

/* ---- interrupts ---- */

static void dsa_misc_irq(IntelDSAState *s, uint32_t cause, bool enabled)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    s->intcause |= cause;
    if (enabled && msix_enabled(pdev)) {
        msix_notify(pdev, 0);
    }
}

/*
 * model: the device halts (R_TEST_HALT).  What it was doing stops: the
 * descriptors of a stalled engine and those that arrive later are dropped
 * (the device is not enabled), commands but Reset Device fail.
 */
static void dsa_halt(IntelDSAState *s, uint8_t reset_type)
{
    s->test_halts++;
    s->gensts = GENSTS_HALT;
    s->reset_type = reset_type;
    dsa_misc_irq(s, INTC_HALT_STATE, s->genctrl & GENCTRL_HALT_INT_EN);
}

/* ---- PRI: page requests ---- */

/*
 * The page at VA does not translate: if this access may block on it (PRS on,
 * PRI enabled by the OS, a PASID, s->dma_block), request it with a page
 * request (one page, last in its group [S]) and stall the engine until the
 * page group response.  Returns whether the response granted it (translate
 * again); false when the access may not block, the request could not be
 * made, the response refused it, or a command ended the wait.
 */
static bool dsa_page_request(IntelDSAState *s, bool pasid_en, uint32_t pasid,
                             bool priv, uint64_t va, bool is_write)
{
    PCIDevice *pdev = PCI_DEVICE(s);

    if (!s->dma_block || s->no_stall || !pasid_en || !pcie_pri_enabled(pdev) ||
        !qemu_in_coroutine() || s->engine != qemu_coroutine_self()) {
        return false;
    }
    s->prgi = s->next_prgi++ & PCI_PRI_PRGI_MASK;
    if (pci_pri_register_notifier(pdev, pasid, &s->pri_notifier) ||
        pci_pri_request_page(pdev, pasid, priv, false, va & ~0xfffULL, true,
                             s->prgi, !is_write, is_write)) {
        return false;
    }
    s->page_requests++;
    s->stalled = true;
    qemu_coroutine_yield();
    s->stalled = false;
    return !s->no_stall && s->pri_rc == IOMMU_PRI_RESP_SUCCESS;
}

/* The page group response (called by the IOMMU as it processes it). */
static void dsa_pri_notify(IOMMUPRINotifier *n, IOMMUPRIResponse *r)
{
    IntelDSAState *s = container_of(n, IntelDSAState, pri_notifier);

    if (!s->stalled || r->prgi != s->prgi) {
        return;             /* a stale response: the wait ended already */
    }
    s->pri_rc = r->response_code;
    /* resume outside the IOMMU's invalidation-queue processing */
    qemu_bh_schedule(s->pri_bh);
}

static void dsa_pri_bh(void *opaque)
{
    IntelDSAState *s = opaque;

    if (s->stalled && s->engine) {
        qemu_coroutine_enter(s->engine);
    }
}

/*
 * End the engine's waits: the stalled descriptor, and the queued ones after
 * it, run to completion without page requests (their faults end as with
 * PRS off).  model: a reset of the function does this, and a command
 * (drain, abort, disable, reset) whose wait for the page group response
 * timed out (dsa_cmd), so that they complete with nothing in flight; with
 * DROP the queued descriptors are dropped instead of run.
 */
static void dsa_unstall(IntelDSAState *s, bool drop)
{
    if (drop) {
        s->queue_len = 0;
        memset(s->queued, 0, sizeof(s->queued));
    }
    s->no_stall = true;
    while (s->engine && s->stalled) {
        s->pri_rc = IOMMU_PRI_RESP_FAILURE;
        qemu_coroutine_enter(s->engine);
    }
    s->no_stall = false;
}

/* ---- DMA: every page through an ATS translation request ---- */

/*
 * Access LEN bytes at device virtual address ADDR in the address space of
 * PASID (or of requests without PASID), reading into or writing from BUF.
 * Returns the number of bytes done before the first page that does not
 * translate with the needed permission (LEN when all of them did).
 */
static uint32_t dsa_dma(IntelDSAState *s, bool pasid_en, uint32_t pasid,
                        bool priv, uint64_t addr, void *buf, uint32_t len,
                        bool is_write)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t done = 0;
    int tries = 0;

    while (done < len) {
        IOMMUTLBEntry e;
        uint32_t err = 0;
        uint64_t va = addr + done;
        uint64_t page_left, chunk;
        ssize_t n;
        IOMMUAccessFlags need = is_write ? IOMMU_WO : IOMMU_RO;

        if (!pcie_ats_enabled(pdev) && !pasid_en) {
            /* No ATS: an untranslated request, translated by the IOMMU on
             * the way (pci_dma_rw goes through the device's DMA AS). */
            chunk = len - done;
            if (pci_dma_rw(pdev, va, (uint8_t *)buf + done, chunk,
                           is_write ? DMA_DIRECTION_FROM_DEVICE :
                                      DMA_DIRECTION_TO_DEVICE,
                           MEMTXATTRS_UNSPECIFIED) != MEMTX_OK) {
                return done;
            }
            return len;
        }
        n = pci_ats_request_translation(pdev, pasid_en ? pasid : PCI_NO_PASID,
                                        priv, false, va & ~0xfffULL, 1,
                                        !is_write, &e, 1, &err);
        if (n < 1 || (e.perm & need) != need) {
            /* a page granted by the response is translated again (a few
             * times: the OS may answer success for a page it then loses) */
            if (tries++ < 4 &&
                dsa_page_request(s, pasid_en, pasid, priv, va, is_write)) {
                continue;
            }
            return done;
        }
        tries = 0;
        page_left = (e.addr_mask + 1) - (va & e.addr_mask);
        chunk = MIN(page_left, (uint64_t)(len - done));
        if (address_space_rw(e.target_as,
                             (e.translated_addr & ~e.addr_mask) |
                             (va & e.addr_mask),
                             MEMTXATTRS_UNSPECIFIED,
                             (uint8_t *)buf + done, chunk,
                             is_write) != MEMTX_OK) {
            return done;
        }
        done += chunk;
    }
    return done;
}

/* ---- error reporting: SWERR and the event log ---- */

typedef struct DSAErr {
    uint8_t error;
    bool desc_valid;
    bool fault_rw;         /* 1: write */
    uint8_t operation;
    uint64_t fault_addr;
    uint32_t invalid_flags;
    uint16_t int_handle;
    bool rci, rcr;
    bool first_err_in_batch;
    bool batch_cr;         /* the CR of a batch descriptor (batch_id valid) */
    bool has_cr;           /* the EVL entry carries the CR */
    uint8_t cr[DSA_CR_SIZE];
} DSAErr;

static void dsa_swerr(IntelDSAState *s, const DSACtx *c, const DSAErr *e)
{
    uint64_t q0;

    if (s->swerr[0] & SWERR_VALID) {
        /* [R: IDXD_SWERR_OVERFLOW]: keep the first error */
        s->swerr[0] |= SWERR_OVERFLOW;
    } else {
        q0 = SWERR_VALID | (e->desc_valid ? SWERR_DESC_VALID : 0) |
             (c ? SWERR_WQ_IDX_VALID : 0) |
             (c && c->in_batch ? SWERR_BATCH : 0) |
             (e->fault_rw ? SWERR_FAULT_RW : 0) |
             (c && c->priv ? SWERR_PRIV : 0) |
             (uint64_t)e->error << 8 |
             (uint64_t)(c ? c->wq : 0) << 16 |
             (uint64_t)e->operation << 32 |
             (uint64_t)(c ? c->pasid & 0xfffff : 0) << 40;
        s->swerr[0] = q0;
        s->swerr[1] = (c && c->in_batch ? c->batch_idx : 0) |
                      (uint64_t)e->invalid_flags << 32;
        s->swerr[2] = e->fault_addr;
        s->swerr[3] = 0;
    }
    dsa_misc_irq(s, INTC_ERR, s->genctrl & GENCTRL_SOFTERR_INT_EN);
}

/*
 * Write an event-log entry [R: struct __evl_entry + dsa_completion_record]
 * at the tail.  Returns false when the log is full (model: the error then
 * goes to SWERR, with the overflow bit if SWERR already holds one).
 */
static bool dsa_evl_write(IntelDSAState *s, const DSACtx *c, const DSAErr *e)
{
    uint8_t ent[EVL_ENTRY_SIZE] = { 0 };
    uint64_t q0, base = s->evlcfg[0] & ~0xfffULL;
    uint16_t size = evl_size(s);
    uint32_t w;
    bool pasid_en = s->evlcfg[0] & 1, priv = s->evlcfg[0] & 2;
    uint32_t pasid = (s->evlcfg[1] >> 16) & 0xfffff;
    bool blk, ok;

    if ((uint16_t)((s->evl_tail + 1) % size) == s->evl_head) {
        return false;
    }
    q0 = (e->desc_valid ? 1ULL << 2 : 0) | (c ? 1ULL << 3 : 0) |
         (c && c->in_batch ? 1ULL << 4 : 0) | (e->fault_rw ? 1ULL << 5 : 0) |
         (c && c->priv ? 1ULL << 6 : 0) |
         (uint64_t)e->error << 8 | (uint64_t)(c ? c->wq : 0) << 16 |
         (uint64_t)(c && (c->in_batch || e->batch_cr) ? c->batch_id : 0) << 24 |
         (uint64_t)e->operation << 32 |
         (uint64_t)(c ? c->pasid & 0xfffff : 0) << 40;
    stq_le_p(ent, q0);
    stw_le_p(ent + 8, c && c->in_batch ? c->batch_idx : 0);
    if (e->error == ST_INVALID_FLAGS) {
        w = e->invalid_flags;
    } else {
        w = e->int_handle | (e->rci ? 1u << 16 : 0) |
            (e->rcr ? 1u << 18 : 0) |
            (e->first_err_in_batch ? 1u << 19 : 0);
    }
    stl_le_p(ent + 12, w);
    stq_le_p(ent + 16, e->fault_addr);
    if (e->has_cr) {
        memcpy(ent + 32, e->cr, DSA_CR_SIZE);
    }
    /* the event log never waits for a page */
    blk = s->dma_block;
    s->dma_block = false;
    ok = dsa_dma(s, pasid_en, pasid, priv,
                 base + (uint64_t)s->evl_tail * EVL_ENTRY_SIZE, ent,
                 sizeof(ent), true) == sizeof(ent);
    s->dma_block = blk;
    if (!ok) {
        /* model: an event log that cannot be written halts nothing; the
         * error goes to SWERR */
        return false;
    }
    s->evl_tail = (s->evl_tail + 1) % size;
    s->evl_int_pending = true;
    dsa_misc_irq(s, INTC_EVL, s->genctrl & GENCTRL_EVL_INT_EN);
    return true;
}

static void dsa_report(IntelDSAState *s, const DSACtx *c, const DSAErr *e)
{
    if (evl_enabled(s) && dsa_evl_write(s, c, e)) {
        return;
    }
    dsa_swerr(s, c, e);
}

/* ---- completion records ---- */

static void cr_encode(const DSACR *cr, uint8_t *b)
{
    memset(b, 0, DSA_CR_SIZE);
    b[0] = cr->status;
    b[1] = cr->result;
    b[2] = cr->fault_info;
    stl_le_p(b + 4, cr->bytes_completed);
    stq_le_p(b + 8, cr->fault_addr);
    stl_le_p(b + 16, cr->invalid_flags & 0xffffff);
}

/* Where a completion record went. */
enum { CR_WRITTEN, CR_TO_EVL, CR_TO_SWERR };

/*
 * Complete descriptor D: write its CR if asked (status byte last [S]),
 * raise its interrupt if asked.  A CR that does not translate goes to the
 * event log (2.0 with the log enabled; [S]: with PRS disabled a CR fault is
 * reported there, with the CR, for software to copy) or to SWERR.
 */
static int dsa_complete(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                        const DSACR *cr, bool first_err_in_batch)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint8_t b[DSA_CR_SIZE];
    int where = CR_WRITTEN;
    bool want = (d->flags & F_RCR) || cr->status != ST_SUCCESS;

    if ((d->flags & F_CRAV) && want) {
        bool ok;

        cr_encode(cr, b);
        /* [S]: with PRS on, a CR page is always requested (there is no
         * partial completion to report a CR fault in) */
        s->dma_block = s->blk_cr;
        ok = dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->cr_addr + 1,
                     b + 1, DSA_CR_SIZE - 1, true) == DSA_CR_SIZE - 1 &&
             dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->cr_addr, b, 1,
                     true) == 1;
        s->dma_block = false;
        if (!ok) {
            DSAErr e = {
                .error = ST_CRA_XLAT, .desc_valid = true, .fault_rw = true,
                .operation = d->opcode, .fault_addr = d->cr_addr,
                .int_handle = d->int_handle, .rci = d->flags & F_RCI,
                .rcr = d->flags & F_RCR,
                .first_err_in_batch = first_err_in_batch, .has_cr = true,
                .batch_cr = d->opcode == OP_BATCH,
            };
            memcpy(e.cr, b, DSA_CR_SIZE);
            where = evl_enabled(s) && dsa_evl_write(s, c, &e) ? CR_TO_EVL :
                                                                CR_TO_SWERR;
            if (where == CR_TO_SWERR) {
                dsa_swerr(s, c, &e);
            }
        }
    }
    if (d->flags & F_RCI) {
        /* MSI-X: the interrupt handle is the vector [R: no
         * REQUEST_INT_HANDLE in CMDCAP] */
        if (d->int_handle < DSA_NUM_VECTORS && msix_enabled(pdev)) {
            msix_notify(pdev, d->int_handle);
        }
    }
    return where;
}

/* ---- the engine ---- */

static void desc_decode(const uint8_t *b, DSADesc *d)
{
    uint32_t w0 = ldl_le_p(b), w1 = ldl_le_p(b + 4);

    memcpy(d->raw, b, DSA_DESC_SIZE);
    d->pasid = w0 & 0xfffff;
    d->priv = w0 >> 31;
    d->flags = w1 & 0xffffff;
    d->opcode = w1 >> 24;
    d->cr_addr = ldq_le_p(b + 8);
    d->src = ldq_le_p(b + 16);
    d->dst = ldq_le_p(b + 24);
    d->size = ldl_le_p(b + 32);
    d->int_handle = lduw_le_p(b + 36);
    d->expected_res = b[40];
}

static uint32_t wq_max_xfer(IntelDSAState *s, int wq)
{
    return 1u << (s->wqcfg[wq][WQCFG_LIMITS_IDX] & 0x1f);
}

static uint32_t wq_max_batch(IntelDSAState *s, int wq)
{
    return 1u << ((s->wqcfg[wq][WQCFG_LIMITS_IDX] >> 5) & 0xf);
}

#define CHUNK 4096

/* Partial completion on a page fault [U: DSA_COMP_PAGE_FAULT_NOBOF]. */
static void cr_fault(DSACR *cr, uint64_t addr, uint32_t done, bool write)
{
    cr->status = ST_PAGE_FAULT_NOBOF | (write ? ST_WRITE_FAULT : 0);
    cr->bytes_completed = done;
    cr->fault_addr = addr;
    cr->fault_info = write ? 1 : 0;     /* bit 0: the access was a write */
    cr->result = 0;                     /* ascending copy direction */
}

static void op_memmove(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                       DSACR *cr)
{
    uint8_t buf[CHUNK];
    uint32_t done = 0;

    if (d->size && ranges_overlap(d->src, d->size, d->dst, d->size)) {
        /* GENCAP.overlap_copy is 0 */
        cr->status = ST_OVERLAP_BUFFERS;
        return;
    }
    while (done < d->size) {
        uint32_t n = MIN(CHUNK, d->size - done), got, put;

        got = dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->src + done, buf,
                      n, false);
        put = dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->dst + done, buf,
                      got, true);
        if (put < got) {
            cr_fault(cr, d->dst + done + put, done + put, true);
            return;
        }
        if (got < n) {
            cr_fault(cr, d->src + done + got, done + got, false);
            return;
        }
        done += n;
    }
    cr->status = ST_SUCCESS;
    cr->bytes_completed = 0;
}

static void op_memfill(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                       DSACR *cr)
{
    uint8_t buf[CHUNK];
    uint32_t done = 0, i;

    for (i = 0; i < CHUNK; i += 8) {
        stq_le_p(buf + i, d->src);
    }
    while (done < d->size) {
        uint32_t n = MIN(CHUNK, d->size - done), put;

        /* the pattern repeats from the destination's start */
        put = dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->dst + done, buf,
                      n, true);
        if (put < n) {
            cr_fault(cr, d->dst + done + put, done + put, true);
            return;
        }
        done += n;
    }
    cr->status = ST_SUCCESS;
}

/*
 * COMPARE: src_addr against src2_addr; COMPVAL (PATTERN): src_addr against
 * the 8-byte comp_pattern, which sits where src2_addr is [U: dsa_hw_desc].
 */
static void op_compare(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                       DSACR *cr, bool pattern)
{
    uint8_t a[CHUNK], b[CHUNK];
    uint32_t done = 0, i;

    if (pattern) {
        for (i = 0; i < CHUNK; i += 8) {
            stq_le_p(b + i, d->dst);
        }
    }
    while (done < d->size) {
        uint32_t n = MIN(CHUNK, d->size - done), got;
        uint64_t a_addr = d->src;

        got = dsa_dma(s, c->pasid_en, c->pasid, c->priv, a_addr + done, a, n,
                      false);
        if (got < n) {
            cr_fault(cr, a_addr + done + got, done + got, false);
            return;
        }
        if (!pattern) {
            got = dsa_dma(s, c->pasid_en, c->pasid, c->priv, d->dst + done,
                          b, n, false);
            if (got < n) {
                cr_fault(cr, d->dst + done + got, done + got, false);
                return;
            }
        }
        for (i = 0; i < n; i++) {
            if (a[i] != b[i]) {
                /* result 1, bytes_completed = offset of the first
                 * difference [U: struct dsa_completion_record] */
                cr->result = 1;
                cr->bytes_completed = done + i;
                goto out;
            }
        }
        done += n;
    }
    cr->result = 0;
    cr->bytes_completed = 0;
out:
    cr->status = ((d->flags & F_CR) && cr->result != d->expected_res) ?
                 ST_SUCCESS_PRED : ST_SUCCESS;
}

/*
 * Common checks of a work descriptor; returns a status, or 0 when the
 * descriptor may run.
 */
static uint8_t desc_check(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                          DSACR *cr)
{
    if (d->flags & ~F_VALID) {
        cr->invalid_flags = d->flags & ~F_VALID;
        return ST_INVALID_FLAGS;
    }
    if ((d->flags & F_RCR) && !(d->flags & F_CRAV)) {
        cr->invalid_flags = F_RCR;
        return ST_INVALID_FLAGS;
    }
    if (!wq_op_allowed(s, c->wq, d->opcode)) {
        /* model: an operation the WQ's OPCFG leaves out completes as one
         * the device does not have, "unsupported operation code" [U];
         * a batch's descriptors are checked against it as well */
        return ST_BAD_OPCODE;
    }
    switch (d->opcode) {
    case OP_MEMMOVE:
    case OP_MEMFILL:
    case OP_COMPARE:
    case OP_COMPVAL:
        if (d->size > wq_max_xfer(s, c->wq)) {
            return ST_XFER_ERANGE;
        }
        break;
    case OP_NOOP:
    case OP_DRAIN:
    case OP_BATCH:
        break;
    default:
        return ST_BAD_OPCODE;
    }
    if ((d->flags & F_RCI) && d->int_handle >= DSA_NUM_VECTORS) {
        return ST_INT_HANDLE_INVAL;
    }
    return 0;
}

/* Run one work descriptor (not a batch); fills CR. */
static void dsa_exec_one(IntelDSAState *s, const DSACtx *c, const DSADesc *d,
                         DSACR *cr)
{
    uint8_t st = desc_check(s, c, d, cr);

    if (st) {
        cr->status = st;
        return;
    }
    s->dma_block = s->blk_data;
    switch (d->opcode) {
    case OP_NOOP:
    case OP_DRAIN:
        /* descriptors run to completion in order: nothing is in flight */
        cr->status = ST_SUCCESS;
        break;
    case OP_MEMMOVE:
        op_memmove(s, c, d, cr);
        break;
    case OP_MEMFILL:
        op_memfill(s, c, d, cr);
        break;
    case OP_COMPARE:
        op_compare(s, c, d, cr, false);
        break;
    case OP_COMPVAL:
        op_compare(s, c, d, cr, true);
        break;
    default:
        cr->status = ST_BAD_OPCODE;
        break;
    }
}

/* A descriptor whose CR address is invalid cannot report there. */
static bool cr_addr_ok(const DSADesc *d)
{
    /* [U]: DSA completion records are 32-byte aligned */
    return !(d->flags & F_CRAV) || !(d->cr_addr & (DSA_CR_SIZE - 1));
}

/*
 * Run batch descriptor D.  Fills the batch's CR; returns whether a
 * sub-descriptor's CR went to the event log, in which case the batch's own
 * CR must follow it there (as a 0x27 entry) so that software sees the
 * sub-descriptor fix-ups first [R: DSA_COMP_BATCH_EVL_ERR; the C driver's
 * idxd_evl_fault_work() copies that CR to the batch's CR address].
 */
static bool dsa_exec_batch(IntelDSAState *s, DSACtx *c, const DSADesc *d,
                           DSACR *cr)
{
    uint8_t b[DSA_DESC_SIZE];
    uint32_t i;
    bool failed = false, cr_lost = false, evl_cr = false, first_err = true;
    bool list_blk = s->blk_data;
    bool wq_bof = s->wqcfg[c->wq][WQCFG_MODE_IDX] & WQCFG_BOF;

    if (d->size < 2 || d->size > wq_max_batch(s, c->wq)) {
        cr->status = ST_DESC_CNT_ERANGE;
        return false;
    }
    if (d->src & (DSA_DESC_SIZE - 1)) {
        cr->status = ST_DESCLIST_ALIGN;
        return false;
    }
    c->in_batch = true;
    c->batch_id = s->next_batch_id++;
    for (i = 0; i < d->size; i++) {
        DSADesc sd;
        DSACR scr = { 0 };
        int where;

        c->batch_idx = i;
        s->dma_block = list_blk;
        if (dsa_dma(s, c->pasid_en, c->pasid, c->priv,
                    d->src + (uint64_t)i * DSA_DESC_SIZE, b, sizeof(b),
                    false) != sizeof(b)) {
            /* [U: DSA_COMP_BATCH_PAGE_FAULT]: the list is unreadable;
             * descs_completed = the descriptors processed before it */
            cr->status = ST_BATCH_PAGE_FAULT;
            cr->fault_addr = d->src + (uint64_t)i * DSA_DESC_SIZE;
            cr->result = failed ? 1 : 0;
            cr->bytes_completed = i;
            c->in_batch = false;
            return evl_cr;
        }
        desc_decode(b, &sd);
        if ((sd.flags & F_FENCE) && (failed || cr_lost)) {
            /* [S]: a fence after a failure (or after a CR that did not
             * reach memory) abandons the rest of the batch */
            failed = true;
            break;
        }
        if (sd.opcode == OP_BATCH || sd.opcode == OP_DRAIN) {
            /* model: neither is allowed inside a batch */
            scr.status = ST_BAD_OPCODE;
        } else if (!cr_addr_ok(&sd)) {
            DSAErr e = { .error = ST_CRA_ALIGN, .desc_valid = true,
                         .operation = sd.opcode, .fault_addr = sd.cr_addr };
            dsa_report(s, c, &e);
            failed = true;
            continue;
        } else {
            s->blk_data = s->blk_cr && (sd.flags & F_BOF) && wq_bof;
            dsa_exec_one(s, c, &sd, &scr);
        }
        if (scr.status != ST_SUCCESS && scr.status != ST_SUCCESS_PRED) {
            failed = true;
        }
        where = dsa_complete(s, c, &sd, &scr, first_err);
        if (where != CR_WRITTEN) {
            first_err = false;
            cr_lost = true;
            if (where == CR_TO_EVL) {
                evl_cr = true;
            } else {
                /* 1.0: the completion is lost, the batch failed */
                failed = true;
            }
        }
    }
    c->in_batch = false;
    /* descs_completed: the descriptors processed (not abandoned) */
    cr->bytes_completed = i;
    cr->status = failed ? ST_BATCH_FAIL : ST_SUCCESS;
    cr->result = failed ? 1 : 0;
    return evl_cr;
}

/* A descriptor arrived complete at WQ WQ's portal. */
static void dsa_submit(IntelDSAState *s, int wq, uint32_t mode,
                       const uint8_t *raw)
{
    DSADesc d;
    DSACR cr = { 0 };
    DSACtx c = { .wq = wq };

    if (!dsa_enabled(s) || !wq_enabled(s, wq)) {
        /* model: a descriptor to a disabled WQ is dropped */
        return;
    }
    desc_decode(raw, &d);
    if (mode & WQCFG_MODE_DEDICATED) {
        /* [S]: a dedicated WQ takes PASID and privilege from WQCFG */
        c.pasid_en = mode & WQCFG_PASID_EN;
        c.pasid = (mode >> WQCFG_PASID_SHIFT) & 0xfffff;
        c.priv = mode & WQCFG_PRIV;
    } else {
        /* model: a shared WQ would take the PASID of ENQCMD(S); a plain
         * store to its portal carries none and is dropped [S] */
        return;
    }
    if (!cr_addr_ok(&d)) {
        DSAErr e = { .error = ST_CRA_ALIGN, .desc_valid = true,
                     .operation = d.opcode, .fault_addr = d.cr_addr };
        dsa_report(s, &c, &e);
        return;
    }
    /* [S]: PRS on unless the WQ disables it (2.0); data faults block only
     * when the descriptor asks (BOF) and the WQ allows it (WQCFG.bof) */
    s->blk_cr = c.pasid_en && (!s->dsa2 || !(mode & WQCFG_PRS_DISABLE));
    s->blk_data = s->blk_cr && (d.flags & F_BOF) && (mode & WQCFG_BOF);
    if ((d.flags & F_RCR) && !(d.flags & F_CRAV)) {
        /* no CR to report in */
        DSAErr e = { .error = ST_INVALID_FLAGS, .desc_valid = true,
                     .operation = d.opcode, .invalid_flags = F_RCR };
        dsa_report(s, &c, &e);
        return;
    }
    if (d.opcode == OP_BATCH) {
        uint8_t st = desc_check(s, &c, &d, &cr);

        if (st) {
            cr.status = st;
        } else if (dsa_exec_batch(s, &c, &d, &cr)) {
            /* the batch's CR goes to the event log after its
             * sub-descriptors' CRs, with BATCH_EVL_ERR */
            DSAErr e = {
                .error = ST_BATCH_EVL_ERR, .desc_valid = true,
                .operation = OP_BATCH, .fault_addr = d.cr_addr,
                .int_handle = d.int_handle, .rci = d.flags & F_RCI,
                .rcr = d.flags & F_RCR, .batch_cr = true, .has_cr = true,
            };

            cr_encode(&cr, e.cr);
            if (!dsa_evl_write(s, &c, &e)) {
                dsa_swerr(s, &c, &e);
            }
            if ((d.flags & F_RCI) && d.int_handle < DSA_NUM_VECTORS &&
                msix_enabled(PCI_DEVICE(s))) {
                msix_notify(PCI_DEVICE(s), d.int_handle);
            }
            return;
        }
    } else {
        dsa_exec_one(s, &c, &d, &cr);
    }
    dsa_complete(s, &c, &d, &cr, true);
}

/* ---- the engine ---- */

/* Runs the queued descriptors in order; ends when the queue is empty. */
static void coroutine_fn dsa_engine(void *opaque)
{
    IntelDSAState *s = opaque;

    while (s->queue_len) {
        DSAQueued q = s->queue[s->queue_head];

        s->queue_head = (s->queue_head + 1) % DSA_QUEUE_LEN;
        s->queue_len--;
        s->queued[q.wq]--;
        dsa_submit(s, q.wq, q.mode, q.raw);
    }
    s->engine = NULL;
    if (s->cmd_deferred) {
        qemu_bh_schedule(s->cmd_bh);
    }
}

/*
 * A descriptor arrived at WQ WQ's portal: queue it and run the engine
 * unless it is stalled.  model: a WQ holds at most its size while the
 * engine is stalled; what does not fit is dropped (MOVDIR64B to a full
 * dedicated WQ has no answer).
 */
static void dsa_enqueue(IntelDSAState *s, int wq, const uint8_t *raw)
{
    unsigned size = s->wqcfg[wq][WQCFG_SIZE_IDX] & 0xffff;
    DSAQueued *q;

    if (s->queue_len == DSA_QUEUE_LEN || s->queued[wq] >= MAX(size, 1u)) {
        return;
    }
    q = &s->queue[(s->queue_head + s->queue_len) % DSA_QUEUE_LEN];
    q->wq = wq;
    /* [S]: a dedicated WQ's descriptor takes the PASID the WQ has when it
     * is accepted */
    q->mode = s->wqcfg[wq][WQCFG_MODE_IDX];
    memcpy(q->raw, raw, DSA_DESC_SIZE);
    s->queue_len++;
    s->queued[wq]++;
    if (!s->engine) {
        s->engine = qemu_coroutine_create(dsa_engine, s);
        qemu_coroutine_enter(s->engine);
    }
}

/* ---- BAR2: portals ---- */

static uint64_t dsa_portal_read(void *opaque, hwaddr addr, unsigned size)
{
    /* model: portals are write-only; reads return all ones */
    return ~0ULL;
}

/*
 * A 64-byte descriptor arrives as one or more writes (MOVDIR64B under TCG:
 * eight 8-byte writes in ascending order).  Each portal page reassembles
 * the 64-byte chunk being written; a write to another chunk starts over
 * (model: a torn descriptor is dropped).
 */
static void dsa_portal_write(void *opaque, hwaddr addr, uint64_t val,
                             unsigned size)
{
    IntelDSAState *s = opaque;
    int page = addr / PORTAL_PAGE;
    DSAPortal *p = &s->portal[page];
    uint32_t chunk = addr & ~(hwaddr)(DSA_DESC_SIZE - 1);
    unsigned off = addr & (DSA_DESC_SIZE - 1), i;
    uint8_t bytes[8];

    if (p->have && p->chunk != chunk) {
        p->have = 0;
    }
    p->chunk = chunk;
    stq_le_p(bytes, val);
    for (i = 0; i < size; i++) {
        ((uint8_t *)p->buf)[off + i] = bytes[i];
    }
    /* track arrival per 8-byte slot */
    for (i = off / 8; i <= (off + size - 1) / 8; i++) {
        p->have |= 1u << i;
    }
    if (p->have == 0xff) {
        uint8_t raw[DSA_DESC_SIZE];

        memcpy(raw, p->buf, DSA_DESC_SIZE);
        p->have = 0;
        dsa_enqueue(s, page / PORTALS_PER_WQ, raw);
    }
}

static const MemoryRegionOps dsa_portal_ops = {
    .read = dsa_portal_read,
    .write = dsa_portal_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

/* ---- commands ---- */

static uint32_t cmd_enable_device(IntelDSAState *s)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint64_t wq_seen = 0, eng_seen = 0;
    uint32_t total = 0;
    bool usable = false;
    int g, w;

    if (s->gensts != GENSTS_DISABLED) {
        return CMDSTS_ERR_DEV_ENABLED;
    }
    if (!(pci_get_word(pdev->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        return CMDSTS_ERR_BUSMASTER_EN;
    }
    for (g = 0; g < DSA_NUM_GROUPS; g++) {
        uint64_t wqs = s->grpcfg[g][0], engs = s->grpcfg[g][4];

        if ((wqs & wq_seen) || (engs & eng_seen)) {
            return CMDSTS_ERR_GRP_CONFIG2;
        }
        wq_seen |= wqs;
        eng_seen |= engs;
        if (wqs && !engs) {
            return CMDSTS_ERR_GRP_CONFIG;
        }
        usable |= wqs && engs;
    }
    for (w = 0; w < DSA_NUM_WQS; w++) {
        uint32_t size = s->wqcfg[w][WQCFG_SIZE_IDX] & 0xffff;

        total += size;
        if (size && !(wq_seen & (1ULL << w))) {
            return CMDSTS_ERR_GRP_CONFIG3;
        }
    }
    if (!usable) {
        return CMDSTS_ERR_GRP_CONFIG;
    }
    if (total > DSA_TOTAL_WQ_SIZE) {
        return CMDSTS_ERR_WQ_SIZE_ERANGE;
    }
    if (evl_enabled(s)) {
        uint16_t size = evl_size(s);

        if (size < EVL_SIZE_MIN || !(s->evlcfg[0] & ~0xfffULL)) {
            return CMDSTS_ERR_CONFIG;
        }
        if ((s->evlcfg[0] & 1) && !pcie_pasid_enabled(pdev)) {
            return CMDSTS_ERR_PASID_INVAL;
        }
        s->evl_head = s->evl_tail = 0;
        s->evl_int_pending = false;
    }
    s->gensts = GENSTS_ENABLED;
    return CMDSTS_SUCCESS;
}

static uint32_t cmd_enable_wq(IntelDSAState *s, uint32_t wq)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    uint32_t mode, limits;

    if (!dsa_enabled(s)) {
        return CMDSTS_ERR_DEV_NOTEN;
    }
    if (wq >= DSA_NUM_WQS) {
        return CMDSTS_INVAL_WQIDX;
    }
    if (wq_enabled(s, wq)) {
        return CMDSTS_ERR_WQ_ENABLED;
    }
    if (!(s->wqcfg[wq][WQCFG_SIZE_IDX] & 0xffff) || wq_group(s, wq) < 0) {
        return CMDSTS_ERR_WQ_SIZE;
    }
    {
        uint32_t total = 0;
        int w;

        for (w = 0; w < DSA_NUM_WQS; w++) {
            total += s->wqcfg[w][WQCFG_SIZE_IDX] & 0xffff;
        }
        if (total > DSA_TOTAL_WQ_SIZE) {
            return CMDSTS_ERR_WQ_SIZE;
        }
    }
    mode = s->wqcfg[wq][WQCFG_MODE_IDX];
    if ((mode & WQCFG_PASID_EN) && !pcie_pasid_enabled(pdev)) {
        return CMDSTS_ERR_PASID_EN;
    }
    if (!(mode & WQCFG_MODE_DEDICATED) && !pcie_pasid_enabled(pdev)) {
        /* [S]: a shared WQ needs PASID */
        return CMDSTS_ERR_PASID_EN;
    }
    limits = s->wqcfg[wq][WQCFG_LIMITS_IDX];
    if ((limits & 0x1f) > DSA_MAX_XFER_SHIFT) {
        return CMDSTS_ERR_MAX_XFER_SIZE;
    }
    if (((limits >> 5) & 0xf) > DSA_MAX_BATCH_SHIFT) {
        return CMDSTS_ERR_MAX_BATCH_SIZE;
    }
    wq_set_enabled(s, wq, true);
    return CMDSTS_SUCCESS;
}

/* Operand of the WQ commands: bits 19:16 block of 16 WQs, 15:0 mask [R:
 * idxd_wq_disable()]. */
static uint32_t wq_mask(uint32_t operand)
{
    if (operand >> 16) {
        return 0;
    }
    return operand & ((1u << DSA_NUM_WQS) - 1);
}

static uint32_t dsa_run_cmd(IntelDSAState *s, uint32_t code, uint32_t operand)
{
    uint32_t m;
    int w;

    if (code >= 32 || !(DSA_CMDCAP & (1u << code))) {
        return CMDSTS_INVAL_CMD;
    }
    switch (code) {
    case CMD_ENABLE_DEVICE:
        return cmd_enable_device(s);
    case CMD_DISABLE_DEVICE:
        if (!dsa_enabled(s)) {
            return CMDSTS_ERR_DIS_DEV_EN;
        }
        for (w = 0; w < DSA_NUM_WQS; w++) {
            wq_set_enabled(s, w, false);
        }
        s->gensts = GENSTS_DISABLED;
        return CMDSTS_SUCCESS;
    case CMD_RESET_DEVICE: {
        uint32_t cause = s->intcause;

        dsa_reset_state(s);
        s->intcause = cause;
        return CMDSTS_SUCCESS;
    }
    case CMD_ENABLE_WQ:
        return cmd_enable_wq(s, operand);
    case CMD_DISABLE_WQ:
    case CMD_RESET_WQ:
        if (!dsa_enabled(s)) {
            return CMDSTS_ERR_DEV_NOT_EN;
        }
        m = wq_mask(operand);
        for (w = 0; w < DSA_NUM_WQS; w++) {
            if (m & (1u << w)) {
                wq_set_enabled(s, w, false);
                if (code == CMD_RESET_WQ) {
                    dsa_wqcfg_reset(s, w);
                }
            }
        }
        return CMDSTS_SUCCESS;
    case CMD_DRAIN_ALL:
    case CMD_ABORT_ALL:
    case CMD_DRAIN_WQ:
    case CMD_ABORT_WQ:
    case CMD_DRAIN_PASID:
    case CMD_ABORT_PASID:
        /* nothing is ever in flight: descriptors complete on arrival */
        if (!dsa_enabled(s)) {
            return CMDSTS_ERR_DEV_NOT_EN;
        }
        return CMDSTS_SUCCESS;
    }
    return CMDSTS_INVAL_CMD;
}

/* Whether command CODE stops, drains or aborts work. */
static bool cmd_quiesces(uint32_t code)
{
    return code == CMD_ABORT_ALL || code == CMD_ABORT_WQ ||
           code == CMD_ABORT_PASID || code == CMD_DISABLE_DEVICE ||
           code == CMD_RESET_DEVICE || code == CMD_DISABLE_WQ ||
           code == CMD_RESET_WQ || code == CMD_DRAIN_ALL ||
           code == CMD_DRAIN_WQ || code == CMD_DRAIN_PASID;
}

static void dsa_cmd_run(IntelDSAState *s, uint32_t val);

/*
 * A command written to CMD.  One written while another is active is dropped
 * [R: the driver waits for CMDSTS.active to clear].  [S]: a PASID's page
 * request is answered before the device lets go of the PASID, and work in
 * flight completes before a drain does: a command that stops, drains or
 * aborts work while the engine waits for a page group response is deferred
 * (CMDSTS.active set) until the engine is idle; with an abort, disable or
 * reset the descriptors queued behind the stalled one are dropped at once.
 */
static void dsa_cmd(IntelDSAState *s, uint32_t val)
{
    uint32_t code = (val >> 20) & 0x1f;

    if (s->cmd_deferred) {
        return;
    }
    if (s->gensts != GENSTS_HALT && s->engine && s->stalled &&
        cmd_quiesces(code)) {
        if (code != CMD_DRAIN_ALL && code != CMD_DRAIN_WQ &&
            code != CMD_DRAIN_PASID) {
            s->queue_len = 0;
            memset(s->queued, 0, sizeof(s->queued));
        }
        s->cmd_deferred = true;
        s->cmd_val = val;
        s->cmdsts = CMDSTS_ACTIVE;
        timer_mod(s->cmd_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  DSA_CMD_WAIT_MS);
        return;
    }
    dsa_cmd_run(s, val);
}

/* The engine went idle (or the wait timed out): the deferred command runs. */
static void dsa_cmd_bh(void *opaque)
{
    IntelDSAState *s = opaque;

    /* not idle yet: the engine's end schedules this again */
    if (s->cmd_deferred && !s->engine) {
        s->cmd_deferred = false;
        timer_del(s->cmd_timer);
        dsa_cmd_run(s, s->cmd_val);
    }
}

static void dsa_cmd_timeout(void *opaque)
{
    IntelDSAState *s = opaque;

    if (s->cmd_deferred) {
        /* model: no response came; the command ends the wait itself */
        s->cmd_deferred = false;
        dsa_cmd_run(s, s->cmd_val);
    }
}

static void dsa_cmd_run(IntelDSAState *s, uint32_t val)
{
    /* [R: union idxd_command_reg] */
    uint32_t operand = val & 0xfffff, code = (val >> 20) & 0x1f;
    bool int_req = val >> 31;

    if (s->gensts == GENSTS_HALT) {
        /* model: a halted device takes only Reset Device (and FLR), and
         * Reset Device clears only a halt that asks for it (reset_type 0;
         * the others need an FLR or a platform reset [R]) */
        if (code != CMD_RESET_DEVICE || s->reset_type != RESET_TYPE_SOFTWARE) {
            s->cmdsts = 0x03;   /* [R: IDXD_CMDSTS_HW_ERR] */
            goto done;
        }
    }
    /* model: nothing stays in flight across a command that stops,
     * drains or aborts work: a stalled engine finishes (or drops) first */
    if (s->engine) {
        bool drop = code == CMD_ABORT_ALL || code == CMD_ABORT_WQ ||
                    code == CMD_ABORT_PASID || code == CMD_DISABLE_DEVICE ||
                    code == CMD_RESET_DEVICE || code == CMD_DISABLE_WQ ||
                    code == CMD_RESET_WQ;

        if (drop || code == CMD_DRAIN_ALL || code == CMD_DRAIN_WQ ||
            code == CMD_DRAIN_PASID) {
            dsa_unstall(s, drop);
        }
    }
    s->cmdsts = dsa_run_cmd(s, code, operand);
done:
    if (int_req) {
        /* the command completes before the CMD write returns (CMDSTS.active
         * is never seen set) unless it was deferred (dsa_cmd) */
        dsa_misc_irq(s, INTC_CMD, true);
    }
}

/* ---- BAR0 ---- */

static uint64_t qword_read(const uint64_t *q, hwaddr off, unsigned size)
{
    uint64_t v = q[off / 8];

    if (size == 4) {
        return (v >> ((off & 4) * 8)) & 0xffffffffu;
    }
    return v;
}

static void qword_write(uint64_t *q, hwaddr off, unsigned size, uint64_t val,
                        uint64_t wmask)
{
    uint64_t *v = &q[off / 8], m = wmask;

    if (size == 4) {
        unsigned sh = (off & 4) * 8;

        m &= 0xffffffffULL << sh;
        val <<= sh;
    }
    *v = (*v & ~m) | (val & m);
}

static uint64_t dsa_reg_read(void *opaque, hwaddr addr, unsigned size)
{
    IntelDSAState *s = opaque;
    uint64_t v = 0;
    unsigned stride = dsa_wqcfg_stride(s);

    if (addr >= R_GRPCFG && addr < R_GRPCFG + DSA_NUM_GROUPS * GRPCFG_SIZE) {
        hwaddr o = addr - R_GRPCFG;

        return qword_read(s->grpcfg[o / GRPCFG_SIZE], o % GRPCFG_SIZE, size);
    }
    if (addr >= R_WQCFG && addr < R_WQCFG + DSA_NUM_WQS * stride) {
        hwaddr o = addr - R_WQCFG;
        uint32_t *w = s->wqcfg[o / stride];
        unsigned i = (o % stride) / 4;

        v = w[i];
        if (size == 8) {
            v |= (uint64_t)w[i + 1] << 32;
        }
        return v;
    }
    if (addr >= R_MSIX_PERM && addr < R_MSIX_PERM + DSA_NUM_VECTORS * 8) {
        hwaddr o = addr - R_MSIX_PERM;

        v = s->msix_perm[o / 8][(o % 8) / 4];
        if (size == 8) {
            v |= (uint64_t)s->msix_perm[o / 8][1] << 32;
        }
        return v;
    }

    switch (addr & ~7ULL) {
    case R_VERSION:
        v = dsa_version(s);
        break;
    case R_GENCAP:
        v = dsa_gencap(s);
        break;
    case R_WQCAP:
        v = dsa_wqcap(s);
        break;
    case R_GRPCAP:
        v = dsa_grpcap();
        break;
    case R_ENGCAP:
        v = DSA_NUM_ENGINES;
        break;
    case R_OPCAP:
        v = dsa_opcap0();
        break;
    case R_TABLE_OFFSETS:
        v = dsa_table_offsets0();
        break;
    case R_GENCFG:
        v = s->gencfg;
        break;
    case R_GENCTRL:
        v = s->genctrl;
        break;
    case R_GENSTS:
        v = s->gensts | (uint32_t)s->reset_type << GENSTS_RESET_TYPE_SHIFT;
        break;
    case R_TEST_HALT:
        v = s->test_halts;
        break;
    case R_INTCAUSE:
        v = s->intcause;
        break;
    case R_CMDSTS:
        v = s->cmdsts;
        break;
    case R_CMDCAP:
        v = DSA_CMDCAP;
        break;
    case R_SWERR:
    case R_SWERR + 8:
    case R_SWERR + 16:
    case R_SWERR + 24:
        return qword_read(s->swerr, addr - R_SWERR, size);
    case R_EVLCFG:
    case R_EVLCFG + 8:
        if (!s->dsa2) {
            return 0;
        }
        return qword_read(s->evlcfg, addr - R_EVLCFG, size);
    case R_EVLSTATUS:
        if (!s->dsa2) {
            return 0;
        }
        v = s->evl_head | (uint64_t)s->evl_tail << 32 |
            (uint64_t)(s->evl_int_pending ? EVL_INT_PENDING : 0) << 32;
        break;
    default:
        /* reserved and absent registers read as zero */
        return 0;
    }
    if (size == 4 && (addr & 4)) {
        return v >> 32;
    }
    return size == 4 ? (uint32_t)v : v;
}

static void dsa_wqcfg_write32(IntelDSAState *s, int wq, unsigned i,
                              uint32_t val)
{
    uint32_t m;

    /* [P: regfile.rs]: a WQ's WQCFG is writable only while it is disabled */
    if (wq_enabled(s, wq)) {
        return;
    }
    switch (i) {
    case WQCFG_SIZE_IDX:
        /* writable while the WQ is disabled, also on an enabled device:
         * idxd restores a WQ's configuration after Reset WQ that way
         * (idxd_wq_disable()); totals are checked at Enable Device and
         * Enable WQ */
        m = 0xffff;
        break;
    case WQCFG_THRESH_IDX:
        m = 0xffff;
        break;
    case WQCFG_MODE_IDX:
        /* mode, bof, ats_disable, prs_disable (2.0), priority, pasid,
         * pasid_en, priv */
        m = 0x3ffffff7 | (s->dsa2 ? WQCFG_PRS_DISABLE : 0);
        break;
    case WQCFG_LIMITS_IDX:
        m = 0x1ff;      /* max_xfer_shift, max_batch_shift */
        break;
    default:
        if (s->dsa2 && i >= WQCFG_OPCFG_IDX &&
            i < WQCFG_OPCFG_IDX + WQCFG_OPCFG_DWORDS) {
            /* model: OPCFG keeps the bits of operations OPCAP has */
            m = dsa_opcap_dword(i - WQCFG_OPCFG_IDX);
            break;
        }
        /* occupancy, state: read-only */
        return;
    }
    s->wqcfg[wq][i] = (s->wqcfg[wq][i] & ~m) | (val & m);
}

static void dsa_reg_write(void *opaque, hwaddr addr, uint64_t val,
                          unsigned size)
{
    IntelDSAState *s = opaque;
    unsigned stride = dsa_wqcfg_stride(s);

    if (addr >= R_GRPCFG && addr < R_GRPCFG + DSA_NUM_GROUPS * GRPCFG_SIZE) {
        hwaddr o = addr - R_GRPCFG;
        uint64_t m;

        /* [P]: GRPCFG is writable only while the device is disabled */
        if (s->gensts != GENSTS_DISABLED) {
            return;
        }
        switch ((o % GRPCFG_SIZE) / 8) {
        case 0:
            m = (1ULL << DSA_NUM_WQS) - 1;
            break;
        case 4:
            m = (1ULL << DSA_NUM_ENGINES) - 1;
            break;
        case 5:
            m = GRPFLAGS_MASK;
            break;
        default:
            return;
        }
        qword_write(s->grpcfg[o / GRPCFG_SIZE], o % GRPCFG_SIZE, size, val, m);
        return;
    }
    if (addr >= R_WQCFG && addr < R_WQCFG + DSA_NUM_WQS * stride) {
        hwaddr o = addr - R_WQCFG;
        int wq = o / stride;
        unsigned i = (o % stride) / 4;

        dsa_wqcfg_write32(s, wq, i, val);
        if (size == 8) {
            dsa_wqcfg_write32(s, wq, i + 1, val >> 32);
        }
        return;
    }
    if (addr >= R_MSIX_PERM && addr < R_MSIX_PERM + DSA_NUM_VECTORS * 8) {
        hwaddr o = addr - R_MSIX_PERM;

        /* [R: union msix_perm]: ignore, pasid_en, pasid */
        if ((o % 8) < 4) {
            s->msix_perm[o / 8][0] = val & 0xfffff00c;
        }
        return;
    }

    switch (addr) {
    case R_GENCFG:
        if (s->gensts != GENSTS_DISABLED) {
            return;
        }
        s->gencfg = val & (GENCFG_RDBUF_LIMIT | GENCFG_USER_INT_EN |
                           (s->dsa2 ? GENCFG_EVL_EN : 0));
        break;
    case R_GENCTRL:
        s->genctrl = val & (GENCTRL_SOFTERR_INT_EN | GENCTRL_HALT_INT_EN |
                            (s->dsa2 ? GENCTRL_EVL_INT_EN : 0));
        break;
    case R_INTCAUSE:
        /* write 1 to clear */
        s->intcause &= ~(uint32_t)val;
        break;
    case R_CMD:
        dsa_cmd(s, val);
        break;
    case R_TEST_HALT:
        dsa_halt(s, val & 3);
        break;
    case R_SWERR:
        /* [R: IDXD_SWERR_ACK]: valid and overflow are write-1-to-clear */
        s->swerr[0] &= ~(val & (SWERR_VALID | SWERR_OVERFLOW));
        break;
    case R_EVLCFG:
    case R_EVLCFG + 4:
    case R_EVLCFG + 8:
    case R_EVLCFG + 12:
        if (!s->dsa2 || s->gensts != GENSTS_DISABLED) {
            return;
        }
        if (addr < R_EVLCFG + 8) {
            /* pasid_en, priv, base_addr */
            qword_write(s->evlcfg, addr - R_EVLCFG, size, val,
                        0xfffffffffffff003ULL);
        } else {
            /* size, pasid */
            qword_write(s->evlcfg, addr - R_EVLCFG, size, val,
                        0xfffffffffULL);
        }
        break;
    case R_EVLSTATUS:
    case R_EVLSTATUS + 4:
        if (!s->dsa2) {
            return;
        }
        if (addr == R_EVLSTATUS) {
            /* software owns the head; model: a head beyond the ring is
             * ignored */
            uint16_t h = val & 0xffff;

            if (!evl_size(s) || h < evl_size(s)) {
                s->evl_head = h;
            }
            if (size == 8 && ((val >> 32) & EVL_INT_PENDING)) {
                s->evl_int_pending = false;
            }
        } else if (val & EVL_INT_PENDING) {
            s->evl_int_pending = false;
        }
        break;
    default:
        /* read-only and reserved registers ignore writes */
        break;
    }
}

static const MemoryRegionOps dsa_reg_ops = {
    .read = dsa_reg_read,
    .write = dsa_reg_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 8 },
};

/* ---- PCI ---- */

#define DSA_PCIE_CAP_OFFSET    0x40
#define DSA_MSIX_CAP_OFFSET    0x90
#define DSA_ATS_OFFSET         0x100
#define DSA_PASID_OFFSET       0x110
#define DSA_PRI_OFFSET         0x120
/* model: outstanding page requests the device may have [S: PRI capability] */
#define DSA_PRI_MAX_REQUESTS   32

static void intel_dsa_realize(PCIDevice *pdev, Error **errp)
{
    IntelDSAState *s = INTEL_DSA(pdev);
    uint8_t *pci_conf = pdev->config;
    int i;

    if (!s->version_str || !strcmp(s->version_str, "2.0")) {
        s->dsa2 = true;
    } else if (!strcmp(s->version_str, "1.0")) {
        s->dsa2 = false;
    } else {
        error_setg(errp, "intel-dsa: version must be 1.0 or 2.0");
        return;
    }

    pci_config_set_interrupt_pin(pci_conf, 0);

    memory_region_init(&s->bar0, OBJECT(s), "intel-dsa-bar0", DSA_BAR0_SIZE);
    memory_region_init_io(&s->regs, OBJECT(s), &dsa_reg_ops, s,
                          "intel-dsa-regs", R_MSIX_TABLE);
    memory_region_add_subregion(&s->bar0, 0, &s->regs);
    memory_region_init_io(&s->bar2, OBJECT(s), &dsa_portal_ops, s,
                          "intel-dsa-portals", DSA_BAR2_SIZE);

    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->bar0);
    pci_register_bar(pdev, 2, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->bar2);

    if (pcie_endpoint_cap_init(pdev, DSA_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "intel-dsa: cannot add the PCIe capability");
        return;
    }
    /*
     * PASID travels in an End-End TLP prefix: DEVCAP2.EE_PREFIX (max 4
     * prefixes: field 0).  Linux enables PASID only on devices that have
     * it (drivers/pci/probe.c: pci_configure_eetlp_prefix()).
     */
    pci_long_test_and_set_mask(pdev->config + pdev->exp.exp_cap +
                               PCI_EXP_DEVCAP2, PCI_EXP_DEVCAP2_EE_PREFIX);
    /*
     * Function-level reset: DEVCAP.FLR, and DEVCTL's Initiate FLR resets the
     * device (intel_dsa_write_config()).  idxd handles it (reset_prepare/
     * reset_done: drivers/dma/idxd/init.c).
     */
    pcie_cap_flr_init(pdev);
    if (msix_init(pdev, DSA_NUM_VECTORS, &s->bar0, 0, R_MSIX_TABLE,
                  &s->bar0, 0, R_MSIX_PBA, DSA_MSIX_CAP_OFFSET, errp)) {
        return;
    }
    /* every vector may fire: msix_notify() drops unused ones */
    for (i = 0; i < DSA_NUM_VECTORS; i++) {
        msix_vector_use(pdev, i);
    }
    pcie_ats_init(pdev, DSA_ATS_OFFSET, true);
    /* PASID: 20 bits, no execute permission, privileged mode [S] */
    pcie_pasid_init(pdev, DSA_PASID_OFFSET, DSA_PASID_BITS, false, true);
    if (s->pri) {
        /* page requests; responses carry the PASID [S] */
        pcie_pri_init(pdev, DSA_PRI_OFFSET, DSA_PRI_MAX_REQUESTS, true);
    }
    s->pri_notifier.notify = dsa_pri_notify;
    s->pri_bh = qemu_bh_new(dsa_pri_bh, s);
    s->cmd_bh = qemu_bh_new(dsa_cmd_bh, s);
    s->cmd_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL, dsa_cmd_timeout, s);

    dsa_reset_state(s);
}

/* Config space writes; DEVCTL's Initiate FLR resets the function [PCIe]. */
static void intel_dsa_write_config(PCIDevice *pdev, uint32_t addr,
                                   uint32_t val, int len)
{
    pci_default_write_config(pdev, addr, val, len);
    pcie_cap_flr_write_config(pdev, addr, val, len);
}

static void intel_dsa_exit(PCIDevice *pdev)
{
    IntelDSAState *s = INTEL_DSA(pdev);

    dsa_unstall(s, true);
    qemu_bh_delete(s->pri_bh);
    qemu_bh_delete(s->cmd_bh);
    timer_free(s->cmd_timer);
    s->cmd_timer = NULL;
    msix_unuse_all_vectors(pdev);
    msix_uninit(pdev, &INTEL_DSA(pdev)->bar0, &INTEL_DSA(pdev)->bar0);
}

static void intel_dsa_reset(DeviceState *dev)
{
    IntelDSAState *s = INTEL_DSA(dev);

    dsa_unstall(s, true);
    dsa_reset_state(s);
    msix_reset(PCI_DEVICE(dev));
}

static const Property intel_dsa_props[] = {
    DEFINE_PROP_STRING("version", IntelDSAState, version_str),
    /* the PCIe PRI capability (page requests with PRS on) */
    DEFINE_PROP_BOOL("pri", IntelDSAState, pri, true),
};

static void intel_dsa_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = intel_dsa_realize;
    k->exit = intel_dsa_exit;
    k->config_write = intel_dsa_write_config;
    k->vendor_id = PCI_VENDOR_ID_INTEL;
    k->device_id = DSA_DEVICE_ID;
    k->revision = 0;
    k->class_id = DSA_CLASS;
    device_class_set_legacy_reset(dc, intel_dsa_reset);
    device_class_set_props(dc, intel_dsa_props);
    dc->desc = "Intel DSA (Data Streaming Accelerator), DSA 1.0 or 2.0";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo intel_dsa_info = {
    .name = TYPE_INTEL_DSA,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(IntelDSAState),
    .class_init = intel_dsa_class_init,
    .interfaces = (const InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void intel_dsa_register_types(void)
{
    type_register_static(&intel_dsa_info);
}

type_init(intel_dsa_register_types)
