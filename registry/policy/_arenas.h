/* Python's small-object arenas in transparent huge pages (`_arenas.c`). */
#ifndef CLEARANCE_ARENAS_H
#define CLEARANCE_ARENAS_H
#include <stddef.h>

/* 1 once arenas come from a region of `reserve` bytes marked MADV_HUGEPAGE, 0 when the region
 * could not be mapped or marked (nothing changed) */
int use_huge_page_arenas(size_t reserve);

/* how many arenas of that region are in use */
size_t huge_page_arenas_in_use(void);

#endif
