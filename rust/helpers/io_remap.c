// SPDX-License-Identifier: GPL-2.0

#include <linux/mm.h>
#ifdef CONFIG_X86_64
#include <asm/cpufeature.h>
#endif

__rust_helper pgprot_t rust_helper_pgprot_noncached(pgprot_t prot)
{
	return pgprot_noncached(prot);
}

#ifdef CONFIG_X86_64
/* cpu_feature_enabled() is a macro on a constant feature bit: one helper per feature. */
__rust_helper bool rust_helper_cpu_feature_enabled_movdir64b(void)
{
	return cpu_feature_enabled(X86_FEATURE_MOVDIR64B);
}

__rust_helper bool rust_helper_cpu_feature_enabled_enqcmd(void)
{
	return cpu_feature_enabled(X86_FEATURE_ENQCMD);
}
#endif
