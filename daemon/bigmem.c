/*
 * bigmem (see bigmem.h).
 */
#include "bigmem.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

int bigmem_reserve(struct bigmem *b, size_t bytes)
{
	b->base = NULL;
	b->size = 0;
	if (bytes == 0)
		return 0;
	if (bytes > SIZE_MAX - 2 * HUGE_PAGE)
		return -1;
	size_t size = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	/* one huge page more, to start on a 2 MB boundary; MAP_NORESERVE:
	 * only what is written counts against the memory */
	size_t span = size + HUGE_PAGE;
	char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	char *aligned = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (aligned > p)
		munmap(p, (size_t)(aligned - p));
	size_t tail = (size_t)(p + span - (aligned + size));
	if (tail)
		munmap(aligned + size, tail);
	/* advice only: without transparent huge pages it is 4 kB pages */
	(void)madvise(aligned, size, MADV_HUGEPAGE);
	b->base = aligned;
	b->size = size;
	return 0;
}

void bigmem_release(struct bigmem *b)
{
	if (b->base)
		munmap(b->base, b->size);
	b->base = NULL;
	b->size = 0;
}
