/* Python's small-object arenas in transparent huge pages (`registry.policy.memory`).
 *
 * pymalloc takes its arenas (1 MiB since CPython 3.10) from mmap, one mapping
 * each, which the kernel backs with 4 KiB pages: a process holding the engine's memos and a
 * catalog (hundreds of MB) then misses the CPU's address-translation cache on most reads of an
 * object chosen at random, and walks page tables from memory. Here arenas come from one
 * reserved, 2 MiB-aligned region marked MADV_HUGEPAGE, handed out in order (so 2 MiB pages fill
 * densely) and reused once freed (they are kept, not returned to the system: a long-lived
 * server's arenas are few to churn). When the region is used up, arenas come from mmap as
 * before. No library does this for CPython 3.11 (3.14 has PYTHON_PYMALLOC_HUGEPAGES).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <sys/mman.h>

#include "_arenas.h"

#define HUGE_PAGE ((size_t)2 << 20)
/* pymalloc's arena (CPython 3.10 and later on 64 bits). The same allocator also serves the
 * interpreter's frame stack chunks (`_PyObject_VirtualAlloc`), of other sizes: those, and
 * arenas of any other size, go to the allocator this one replaced. */
#define ARENA_BYTES ((size_t)1 << 20)

static char *region = NULL, *region_next = NULL, *region_end = NULL;
static void *reused = NULL; /* freed arenas, each holding the next's address */
static size_t in_region = 0;  /* arenas of the region in use */
static PyObjectArenaAllocator fallback;

static void *
arena_alloc(void *ctx, size_t size)
{
    if (size != ARENA_BYTES) {
        return fallback.alloc(fallback.ctx, size);
    }
    if (reused != NULL) {
        void *arena = reused;
        reused = *(void **)arena;
        in_region++;
        return arena;
    }
    if ((size_t)(region_end - region_next) >= size) {
        void *arena = region_next;
        region_next += size;
        in_region++;
        return arena;
    }
    return fallback.alloc(fallback.ctx, size);
}

static void
arena_free(void *ctx, void *arena, size_t size)
{
    if ((char *)arena >= region && (char *)arena < region_end) { /* an arena of ARENA_BYTES */
        *(void **)arena = reused;
        reused = arena;
        in_region--;
        return;
    }
    fallback.free(fallback.ctx, arena, size); /* one made before, or beyond the region */
}

int
use_huge_page_arenas(size_t reserve)
{
    if (region != NULL) {
        return 1;
    }
    reserve = (reserve + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    char *mapped = mmap(NULL, reserve + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                        -1, 0);
    if (mapped == MAP_FAILED) {
        return 0;
    }
    char *aligned = (char *)(((uintptr_t)mapped + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (madvise(aligned, reserve, MADV_HUGEPAGE) != 0) {
        munmap(mapped, reserve + HUGE_PAGE);
        return 0;
    }
    region = region_next = aligned;
    region_end = aligned + reserve;
    PyObject_GetArenaAllocator(&fallback);
    PyObjectArenaAllocator mine = {NULL, arena_alloc, arena_free};
    PyObject_SetArenaAllocator(&mine);
    return 1;
}

size_t
huge_page_arenas_in_use(void)
{
    return in_region;
}
