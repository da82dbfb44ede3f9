/*
 * Notes: `vtsim explain bounce` (see explain.h). The software is the VMM's
 * swiotlb (src/vmm/swiotlb.c, after Linux's dma-direct and swiotlb); this
 * file sets a pool up, maps one buffer the way a driver would
 * (dma_map_single, then dma_unmap_single after the device's DMA) and
 * prints what each step did, from the dma.bounce.* counters. Host memory
 * is simulated; the buffer holds no data, so the copies move zeros.
 */
#include <inttypes.h>
#include <string.h>

#include "cli/explain.h"
#include "vmm/swiotlb.h"

static const char *const dir_names[] = {[DMA_BIDIRECTIONAL] = "BIDIRECTIONAL", [DMA_TO_DEVICE] = "TO_DEVICE",
					[DMA_FROM_DEVICE] = "FROM_DEVICE", [DMA_NONE] = "NONE"};

/* What a step did: the counters' change since *before. */
static void print_step(FILE *out, const char *what, const struct counters *c, struct counters *before)
{
	uint64_t copies = c->v[CTR_DMA_BOUNCE_COPIES] - before->v[CTR_DMA_BOUNCE_COPIES];
	uint64_t bytes = c->v[CTR_DMA_BOUNCE_BYTES] - before->v[CTR_DMA_BOUNCE_BYTES];
	uint64_t cyc = c->v[CTR_DMA_BOUNCE_CYCLES] - before->v[CTR_DMA_BOUNCE_CYCLES];
	fprintf(out, "%-6s %" PRIu64 " cop%s, %" PRIu64 " bytes, %" PRIu64 " cycles\n", what, copies, copies == 1 ? "y" : "ies",
		bytes, cyc);
	*before = *c;
}

int explain_bounce(const struct explain_bounce_opts *o, FILE *out, char *err)
{
	struct phys_mem mem;
	struct counters ctr, before;
	struct swiotlb s;
	memset(&ctr, 0, sizeof(ctr));
	if (mem_init(&mem) < 0) {
		snprintf(err, CPU_ERR_LEN, "out of memory");
		return -1;
	}
	int rc = -1;
	char serr[256];
	const uint64_t pool = o->params.swiotlb_pool_mib << 20;
	if (swiotlb_init(&s, &mem, &ctr, EXPLAIN_BOUNCE_POOL, pool, o->params.swiotlb_copy_cycles_per_kib, serr) < 0) {
		snprintf(err, CPU_ERR_LEN, "%s", serr);
		goto out_mem;
	}
	const struct dma_dev dev = {
		.dma_mask = o->mask_bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << o->mask_bits) - 1,
		.seg_boundary = UINT64_C(0xffffffff),
	};
	const uint64_t last = o->addr + o->bytes - 1;
	fprintf(out, "explain bounce: dma_map_single of %" PRIu64 " bytes at HPA 0x%" PRIx64 ", DMA_%s, for a device with a "
		     "%u-bit DMA mask\n",
		o->bytes, o->addr, dir_names[o->dir], o->mask_bits);
	fprintf(out, "swiotlb: a %" PRIu64 " MiB pool at HPA 0x%" PRIx64 " (%u slots of %u bytes, segments of %u slots), "
		     "no IOMMU remapping\n",
		o->params.swiotlb_pool_mib, EXPLAIN_BOUNCE_POOL, s.nslabs, IO_TLB_SIZE, IO_TLB_SEGSIZE);
	bool capable = dma_capable(&dev, o->addr, o->bytes);
	fprintf(out, "dma_capable: the buffer ends at 0x%" PRIx64 ", the mask reaches 0x%" PRIx64 ": %s\n", last,
		dev.dma_mask, capable ? "reachable, the device DMAs to it directly (no bounce)" : "out of reach, so it bounces");
	before = ctr;
	uint64_t dma = dma_direct_map_page(&s, &dev, o->addr, o->bytes, o->dir);
	if (dma == DMA_MAPPING_ERROR) {
		fprintf(out, "map:   DMA_MAPPING_ERROR (%s)\n", s.err[0] ? s.err : "the bounce failed");
		rc = 0;
		goto out_pool;
	}
	uint64_t slots = ctr.v[CTR_DMA_BOUNCE_SLOTS];
	if (is_swiotlb_buffer(&s, dma))
		fprintf(out, "slots: %" PRIu64 " slot%s at bounce address 0x%" PRIx64 " (slot %" PRIu64 "); the device is given "
			     "0x%" PRIx64 "\n",
			slots, slots == 1 ? "" : "s", dma, (dma - EXPLAIN_BOUNCE_POOL) / IO_TLB_SIZE, dma);
	else
		fprintf(out, "slots: none; the device is given 0x%" PRIx64 " itself\n", dma);
	print_step(out, "map:", &ctr, &before);
	fprintf(out, "        (the device's DMA happens here)\n");
	dma_direct_unmap_page(&s, &dev, dma, o->bytes, o->dir);
	print_step(out, "unmap:", &ctr, &before);
	fprintf(out, "total: %" PRIu64 " bounce mapping%s, %" PRIu64 " slots, %" PRIu64 " cop%s, %" PRIu64 " bytes copied, "
		     "%" PRIu64 " cycles\n",
		ctr.v[CTR_DMA_BOUNCE_MAPS], ctr.v[CTR_DMA_BOUNCE_MAPS] == 1 ? "" : "s", ctr.v[CTR_DMA_BOUNCE_SLOTS],
		ctr.v[CTR_DMA_BOUNCE_COPIES], ctr.v[CTR_DMA_BOUNCE_COPIES] == 1 ? "y" : "ies", ctr.v[CTR_DMA_BOUNCE_BYTES],
		ctr.v[CTR_DMA_BOUNCE_CYCLES]);
	rc = 0;
out_pool:
	swiotlb_destroy(&s);
out_mem:
	mem_destroy(&mem);
	return rc;
}
