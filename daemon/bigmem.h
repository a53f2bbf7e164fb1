/*
 * bigmem: a large scratch buffer (a plan's millions of pairs) reserved at
 * its largest possible size and filled as it goes, on transparent huge
 * pages where the kernel has them.
 *
 * Why not malloc/realloc: growing an array of 150 MB by doubling copies it
 * again and again, and every 4 kB page first touched is a page fault (dear
 * on a virtual machine): a plan spent a quarter of its time there. Here the
 * address range is reserved once (no memory is taken until written), a
 * 2 MB page is one fault, and nothing is ever copied to grow.
 */
#ifndef SIAOD_BIGMEM_H
#define SIAOD_BIGMEM_H

#include <stddef.h>

struct bigmem {
	void *base;      /* NULL: nothing reserved */
	size_t size;     /* bytes reserved (a multiple of 2 MB) */
};

/* Reserves room for `bytes` (0: nothing, base NULL). Returns 0, or -1 when
 * the address space could not be had. */
int bigmem_reserve(struct bigmem *b, size_t bytes);
/* Gives it all back; the struct is empty afterwards. */
void bigmem_release(struct bigmem *b);

#endif
