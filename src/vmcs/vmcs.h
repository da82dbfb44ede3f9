/*
 * The VMCS as the processor keeps it: every field of reference sheet §1.2
 * by its SDM encoding. Software reaches it only through VMREAD/VMWRITE
 * (src/cpu/vmx.h); vmcs_get/vmcs_put are the processor's own internal
 * accessors (recording exit information, loading guest state on entry).
 */
#ifndef VTSIM_VMCS_VMCS_H
#define VTSIM_VMCS_VMCS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/vmcs_fields.h"

#define VMCS_SLOTS (4 * 4 * 512) /* width x type x index */

struct vmcs {
	uint32_t revision;            /* VMCS revision identifier (IA32_VMX_BASIC[30:0]) */
	bool launched;                /* launch state: clear / launched */
	uint64_t f[VMCS_SLOTS];
	uint64_t supported[VMCS_SLOTS / 64];
};

void vmcs_init(struct vmcs *v, uint32_t revision);
/* True if enc names a field this processor supports (reference sheet §1.1: the
 * _HIGH access type is valid only for 64-bit fields). */
bool vmcs_field_supported(const struct vmcs *v, uint32_t enc);
/* SDM-style name of a field ("GUEST_CR3"), "UNKNOWN" if not supported. */
const char *vmcs_field_name(uint32_t enc);
/* Processor-internal access; values are truncated to the field's width. */
uint64_t vmcs_get(const struct vmcs *v, uint32_t enc);
void vmcs_put(struct vmcs *v, uint32_t enc, uint64_t val);
/* Print every non-zero field, one per line (for an unexpected exit). */
void vmcs_dump(const struct vmcs *v, FILE *out);

/* Name of a basic exit reason ("EPT_VIOLATION"), or NULL for a reserved number. */
const char *exit_reason_name(unsigned basic_reason);

#endif
