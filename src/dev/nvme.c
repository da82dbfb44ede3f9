/*
 * NVMe: an NVM Express 1.4 controller (NVM Express Base Specification
 * 1.4), the subset an OS driver needs for Read and Write.
 *
 * Notes:
 *  - Registers: CAP (MQES 1023, CQR 1, DSTRD 0, MPSMIN 0 = 4 KiB), VS
 *    1.4.0, CC, CSTS, AQA, ASQ, ACQ and the doorbells of queues 0..15.
 *    CSTS.RDY follows CC.EN at once: this model has no enable latency
 *    (CAP.TO is reported but never needed). CC.EN 1 -> 0 is a controller
 *    reset (I/O queues deleted). A shutdown notification (CC.SHN) is
 *    complete at once (CSTS.SHST = 10b). INTMS/INTMC read 0 and are
 *    ignored (they are for INTx/MSI multi-vector masking).
 *  - Admin commands: Create I/O CQ 05h, Create I/O SQ 01h (physically
 *    contiguous only: PC = 0 is Invalid Field; CC.IOCQES/IOSQES must be
 *    4/6 first), Delete I/O SQ 00h, Delete I/O CQ 04h. Others: Invalid
 *    Command Opcode (no Identify, features, log pages or AERs). Admin
 *    commands take no modelled time (callback after 0 cycles).
 *  - I/O commands: Write 01h and Read 02h on namespace 1 (512-byte LBAs,
 *    NVME_NS_BLOCKS of them), data by PRP1/PRP2/PRP lists (§4.3: PRP1
 *    dword aligned with any offset, PRP2 the second page or, beyond two
 *    pages, a list pointer; a list page's last entry points to the next
 *    list page when more entries are needed; entries in a list, that
 *    pointer included, have offset 0, else PRP Offset Invalid). List entries are read 8 at
 *    most per structure request (64 bytes), never across a list page;
 *    one payload request per PRP entry (4 KiB at most). The payload moves
 *    when the command is fetched; the command completes nvme.read_ns /
 *    nvme.write_ns later whatever its length (no transfer time: at QD1 a
 *    4 KiB access is dominated by the media). Others: Invalid Command
 *    Opcode (no Flush, no Dataset Management).
 *  - One engine (dev.h): commands are served one at a time, SQs in round
 *    robin (admin included); a real SSD overlaps many.
 *  - Completion: a 16-byte structure write with the CQ's phase tag (1 on
 *    the first pass, flipped at each wrap); then the MSI if the CQ has
 *    interrupts enabled. One MSI vector for all queues (IV must be 0,
 *    else Invalid Interrupt Vector). A full CQ holds the completion until
 *    the host's next head doorbell of that CQ.
 *  - Blocked DMA (the port returns 1): of the payload or a PRP list, the
 *    command completes with Data Transfer Error (SCT 0, SC 04h); of the
 *    SQ entry fetch or the completion write, there is nobody to tell: the
 *    controller sets CSTS.CFS (controller fatal status) and stops, as a
 *    real controller does on an unrecoverable error; the host must reset it.
 *  - Doorbell writes beyond the queue's size, or to a queue that does not
 *    exist, are ignored (a real controller posts an asynchronous event).
 */
#include <string.h>

#include "dev/dev_internal.h"
#include "dev/nvme_regs.h"

void nvme_reset(struct pci_dev *d)
{
	memset(&d->u.nvme, 0, sizeof(d->u.nvme));
}

/* Controller reset by CC.EN 1 -> 0: registers other than the admin queue
 * attributes go back to their reset values; every queue is deleted. */
static void controller_reset(struct nvme_state *c)
{
	uint32_t aqa = c->aqa;
	uint64_t asq = c->asq, acq = c->acq;
	memset(c, 0, sizeof(*c));
	c->aqa = aqa;
	c->asq = asq;
	c->acq = acq;
}

static void enable(struct nvme_state *c)
{
	if (NVME_CC_MPS(c->cc) != 0) {
		c->csts |= NVME_CSTS_CFS; /* only 4 KiB pages (CAP.MPSMAX = 0) */
		return;
	}
	c->sq[0] = (struct nvme_sq){.live = true, .base = c->asq & ~UINT64_C(0xFFF), .size = NVME_AQA_ASQS(c->aqa) + 1};
	c->cq[0] = (struct nvme_cq){
		.live = true, .phase = true, .ien = true, .base = c->acq & ~UINT64_C(0xFFF), .size = NVME_AQA_ACQS(c->aqa) + 1};
	c->csts |= NVME_CSTS_RDY;
}

static uint32_t u32lo(uint64_t w)
{
	return (uint32_t)w;
}

static uint32_t u32hi(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

enum xfer { XFER_OK = 0, XFER_BLOCKED = 1, XFER_PRP_OFFSET = 2 };

/* One payload request; XFER_OK / XFER_BLOCKED, or -1. */
static int payload(struct pci_dev *d, uint64_t addr, uint32_t len, bool to_host, char *err)
{
	return dev_dma(d, addr, len, to_host, NULL, err);
}

/* Move len bytes described by PRP1/PRP2 (§4.3). enum xfer or -1. */
static int transfer(struct pci_dev *d, uint64_t prp1, uint64_t prp2, uint64_t len, bool to_host, char *err)
{
	if (prp1 & 3)
		return XFER_PRP_OFFSET;
	uint64_t first = NVME_PAGE - (prp1 & (NVME_PAGE - 1));
	if (first > len)
		first = len;
	int rc = payload(d, prp1, (uint32_t)first, to_host, err);
	if (rc != 0)
		return rc;
	uint64_t rem = len - first;
	if (rem == 0)
		return XFER_OK;
	if (rem <= NVME_PAGE) {
		if (prp2 & (NVME_PAGE - 1))
			return XFER_PRP_OFFSET;
		return payload(d, prp2, (uint32_t)rem, to_host, err);
	}
	/* PRP2 is a list pointer. */
	uint64_t lp = prp2;
	if (lp & 7)
		return XFER_PRP_OFFSET;
	uint64_t buf[8];
	unsigned nbuf = 0, bi = 0;
	while (rem) {
		uint64_t need = (rem + NVME_PAGE - 1) / NVME_PAGE;
		uint64_t in_page = (NVME_PAGE - (lp & (NVME_PAGE - 1))) / 8;
		if (bi == nbuf) {
			uint64_t k = in_page < 8 ? in_page : 8;
			if (k > need)
				k = need;
			rc = dev_dma(d, lp, (uint32_t)(k * 8), false, buf, err);
			if (rc != 0)
				return rc;
			nbuf = (unsigned)k;
			bi = 0;
		}
		uint64_t e = buf[bi++];
		lp += 8;
		if (in_page == 1 && need > 1) {
			/* the last entry of a list page: the next list page (an
			 * entry of a list: offset 0, which also bounds the walk) */
			if (e & (NVME_PAGE - 1))
				return XFER_PRP_OFFSET;
			lp = e;
			nbuf = bi = 0;
			continue;
		}
		if (e & (NVME_PAGE - 1))
			return XFER_PRP_OFFSET;
		uint64_t chunk = rem < NVME_PAGE ? rem : NVME_PAGE;
		rc = payload(d, e, (uint32_t)chunk, to_host, err);
		if (rc != 0)
			return rc;
		rem -= chunk;
	}
	return XFER_OK;
}

static uint16_t admin(struct nvme_state *c, uint8_t opc, uint32_t cdw10, uint32_t cdw11, uint64_t prp1)
{
	uint32_t qid = cdw10 & 0xFFFF, qsize = (cdw10 >> 16) + 1;
	switch (opc) {
	case NVME_ADMIN_CREATE_CQ: {
		uint32_t iv = cdw11 >> 16;
		bool ien = cdw11 & NVME_CQ_IEN;
		if (qid == 0 || qid >= NVME_MAX_QUEUES || c->cq[qid].live)
			return NVME_SC_QID_INVALID;
		if (qsize < 2 || qsize > NVME_CAP_MQES + 1)
			return NVME_SC_QSIZE_INVALID;
		if (!(cdw11 & NVME_Q_PC) || NVME_CC_IOCQES(c->cc) != 4 || (prp1 & (NVME_PAGE - 1)))
			return NVME_SC_INVALID_FIELD;
		if (ien && iv != 0)
			return NVME_SC_IV_INVALID;
		c->cq[qid] = (struct nvme_cq){.live = true, .phase = true, .ien = ien, .base = prp1, .size = qsize};
		return NVME_SC_SUCCESS;
	}
	case NVME_ADMIN_CREATE_SQ: {
		uint32_t cqid = cdw11 >> 16;
		if (qid == 0 || qid >= NVME_MAX_QUEUES || c->sq[qid].live)
			return NVME_SC_QID_INVALID;
		if (cqid == 0 || cqid >= NVME_MAX_QUEUES || !c->cq[cqid].live)
			return NVME_SC_CQ_INVALID;
		if (qsize < 2 || qsize > NVME_CAP_MQES + 1)
			return NVME_SC_QSIZE_INVALID;
		if (!(cdw11 & NVME_Q_PC) || NVME_CC_IOSQES(c->cc) != 6 || (prp1 & (NVME_PAGE - 1)))
			return NVME_SC_INVALID_FIELD;
		c->sq[qid] = (struct nvme_sq){.live = true, .base = prp1, .size = qsize, .cqid = (uint16_t)cqid};
		return NVME_SC_SUCCESS;
	}
	case NVME_ADMIN_DELETE_SQ:
		if (qid == 0 || qid >= NVME_MAX_QUEUES || !c->sq[qid].live)
			return NVME_SC_QID_INVALID;
		c->sq[qid].live = false;
		return NVME_SC_SUCCESS;
	case NVME_ADMIN_DELETE_CQ:
		if (qid == 0 || qid >= NVME_MAX_QUEUES || !c->cq[qid].live)
			return NVME_SC_QID_INVALID;
		for (unsigned q = 1; q < NVME_MAX_QUEUES; q++)
			if (c->sq[q].live && c->sq[q].cqid == qid)
				return NVME_SC_QUEUE_DELETION;
		c->cq[qid].live = false;
		return NVME_SC_SUCCESS;
	default:
		return NVME_SC_INVALID_OPCODE;
	}
}

/* Execute an I/O command: status into *status, its latency into *delay. 0 / -1. */
static int io(struct pci_dev *d, const uint64_t *w, uint16_t *status, uint64_t *delay, char *err)
{
	uint8_t opc = (uint8_t)w[0];
	*delay = 0;
	if (opc != NVME_CMD_READ && opc != NVME_CMD_WRITE) {
		*status = NVME_SC_INVALID_OPCODE;
		return 0;
	}
	if (u32hi(w[0]) != 1) {
		*status = NVME_SC_INVALID_NS;
		return 0;
	}
	uint64_t slba = w[5];
	uint64_t nlb = (u32lo(w[6]) & 0xFFFF) + 1;
	if (slba >= NVME_NS_BLOCKS || NVME_NS_BLOCKS - slba < nlb) {
		*status = NVME_SC_LBA_RANGE;
		return 0;
	}
	bool read = opc == NVME_CMD_READ;
	uint64_t len = nlb * NVME_LBA_BYTES;
	int rc = transfer(d, w[3], w[4], len, read, err);
	if (rc < 0)
		return -1;
	*status = rc == XFER_OK ? NVME_SC_SUCCESS : rc == XFER_BLOCKED ? NVME_SC_DATA_XFER_ERROR : NVME_SC_PRP_OFFSET_INVALID;
	if (rc == XFER_PRP_OFFSET)
		return 0;
	*delay = dev_ns_to_cycles(&d->p, read ? d->p.nvme_read_ns : d->p.nvme_write_ns);
	if (rc == XFER_OK)
		ctr_add(d->ctr, read ? CTR_DEV_NVME_READ_BYTES : CTR_DEV_NVME_WRITE_BYTES, len);
	return 0;
}

/* Fetch and execute the entry at SQ q's head; the completion waits for
 * the callback. 0 / -1. */
static int fetch(struct pci_dev *d, unsigned q, char *err)
{
	struct nvme_state *c = &d->u.nvme;
	struct nvme_sq *sq = &c->sq[q];
	uint64_t w[NVME_SQE_WORDS];
	int rc = dev_dma(d, sq->base + (uint64_t)sq->head * NVME_SQE_BYTES, NVME_SQE_BYTES, false, w, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		c->csts |= NVME_CSTS_CFS;
		return 0;
	}
	sq->head = (sq->head + 1) % sq->size;
	uint16_t status;
	uint64_t delay = 0;
	if (q == 0)
		status = admin(c, (uint8_t)w[0], u32lo(w[5]), u32hi(w[5]), w[3]);
	else if (io(d, w, &status, &delay, err) < 0)
		return -1;
	c->busy = true;
	c->done = (struct nvme_done){.sqid = (uint16_t)q, .cid = (uint16_t)(u32lo(w[0]) >> 16), .status = status, .sqhd = sq->head};
	return dev_schedule(d, delay, err);
}

/* Serve the next SQ with entries, round robin, if the engine is free. */
static int nvme_next(struct pci_dev *d, char *err)
{
	struct nvme_state *c = &d->u.nvme;
	if (d->event_pending || c->busy || !(c->csts & NVME_CSTS_RDY) || (c->csts & NVME_CSTS_CFS))
		return 0;
	for (unsigned i = 1; i <= NVME_MAX_QUEUES; i++) {
		unsigned q = (c->rr + i) % NVME_MAX_QUEUES;
		if (c->sq[q].live && c->sq[q].head != c->sq[q].tail) {
			c->rr = q;
			return fetch(d, q, err);
		}
	}
	return 0;
}

/* Post the completion of the command in flight. 0 / -1. */
static int post(struct pci_dev *d, char *err)
{
	struct nvme_state *c = &d->u.nvme;
	struct nvme_done *k = &c->done;
	struct nvme_cq *cq = &c->cq[c->sq[k->sqid].cqid];
	if ((cq->tail + 1) % cq->size == cq->head) {
		c->stalled = true;
		return 0;
	}
	c->stalled = false;
	c->busy = false;
	uint32_t dw2 = k->sqhd | (uint32_t)k->sqid << 16;
	uint32_t dw3 = k->cid | (cq->phase ? NVME_CQE_P : 0) | (uint32_t)(k->status & 0xFF) << NVME_CQE_SC_SHIFT |
		       (uint32_t)((k->status >> 8) & 7) << NVME_CQE_SCT_SHIFT;
	uint64_t w[NVME_CQE_WORDS] = {0, dw2 | (uint64_t)dw3 << 32};
	int rc = dev_dma(d, cq->base + (uint64_t)cq->tail * NVME_CQE_BYTES, NVME_CQE_BYTES, true, w, err);
	if (rc < 0)
		return -1;
	ctr_inc(d->ctr, CTR_DEV_NVME_CMDS);
	if (k->status != NVME_SC_SUCCESS)
		ctr_inc(d->ctr, CTR_DEV_NVME_ERRORS);
	if (rc == 1) {
		c->csts |= NVME_CSTS_CFS;
		return 0;
	}
	cq->tail = (cq->tail + 1) % cq->size;
	if (cq->tail == 0)
		cq->phase = !cq->phase;
	if (cq->ien && dev_msi(d, err) < 0)
		return -1;
	return nvme_next(d, err);
}

int nvme_event(struct pci_dev *d, char *err)
{
	if (!d->u.nvme.busy)
		return nvme_next(d, err); /* reset while the command was in flight */
	return post(d, err);
}

uint32_t nvme_reg_read(struct pci_dev *d, uint32_t off)
{
	struct nvme_state *c = &d->u.nvme;
	switch (off) {
	case NVME_REG_CAP: return (uint32_t)NVME_CAP_VALUE;
	case NVME_REG_CAP + 4: return (uint32_t)(NVME_CAP_VALUE >> 32);
	case NVME_REG_VS: return NVME_VS_VALUE;
	case NVME_REG_CC: return c->cc;
	case NVME_REG_CSTS: return c->csts;
	case NVME_REG_AQA: return c->aqa;
	case NVME_REG_ASQ: return u32lo(c->asq);
	case NVME_REG_ASQ + 4: return u32hi(c->asq);
	case NVME_REG_ACQ: return u32lo(c->acq);
	case NVME_REG_ACQ + 4: return u32hi(c->acq);
	default: return 0;
	}
}

static int doorbell(struct pci_dev *d, uint32_t off, uint32_t val, char *err)
{
	struct nvme_state *c = &d->u.nvme;
	uint32_t idx = (off - NVME_DOORBELL_BASE) / 4, y = idx / 2;
	if (y >= NVME_MAX_QUEUES || !(c->csts & NVME_CSTS_RDY))
		return 0;
	if (idx % 2 == 0) {
		struct nvme_sq *sq = &c->sq[y];
		if (!sq->live || val >= sq->size)
			return 0;
		sq->tail = val;
		return nvme_next(d, err);
	}
	struct nvme_cq *cq = &c->cq[y];
	if (!cq->live || val >= cq->size)
		return 0;
	cq->head = val;
	if (c->stalled && c->sq[c->done.sqid].cqid == y)
		return post(d, err);
	return 0;
}

int nvme_reg_write(struct pci_dev *d, uint32_t off, uint32_t val, char *err)
{
	struct nvme_state *c = &d->u.nvme;
	if (off >= NVME_DOORBELL_BASE)
		return doorbell(d, off, val, err);
	switch (off) {
	case NVME_REG_CC: {
		uint32_t old = c->cc;
		if ((old & NVME_CC_EN) && !(val & NVME_CC_EN))
			controller_reset(c);
		c->cc = val;
		if (!(old & NVME_CC_EN) && (val & NVME_CC_EN))
			enable(c);
		if (NVME_CC_SHN(val))
			c->csts |= NVME_CSTS_SHST_DONE;
		return 0;
	}
	case NVME_REG_AQA: c->aqa = val; return 0;
	case NVME_REG_ASQ: c->asq = (c->asq & ~UINT64_C(0xFFFFFFFF)) | val; return 0;
	case NVME_REG_ASQ + 4: c->asq = (c->asq & UINT64_C(0xFFFFFFFF)) | (uint64_t)val << 32; return 0;
	case NVME_REG_ACQ: c->acq = (c->acq & ~UINT64_C(0xFFFFFFFF)) | val; return 0;
	case NVME_REG_ACQ + 4: c->acq = (c->acq & UINT64_C(0xFFFFFFFF)) | (uint64_t)val << 32; return 0;
	default: return 0;
	}
}
