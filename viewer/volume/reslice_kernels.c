/* The reslice kernels behind viewer/volume/reslice.py, compiled ahead of time (plain C99, no
 * Python API) into viewer/volume/_reslice_kernels*.so / .pyd by setup.py and loaded with ctypes
 * (viewer/volume/reslice_kernels.py), so that no JIT compiler is loaded at run time.
 *
 * Every kernel fills out[r, c] (float32, rows x cols, C order) for the rows
 * [row_start, row_stop) only: the caller splits the rows over threads (ctypes releases the GIL),
 * and a row's values never depend on the split. Arithmetic is in double, without fast-math or
 * contraction (-ffp-contract=off), so results match an independent resampler to float rounding
 * and are the same on every CPU whichever clone runs.
 *
 * The samples of one pixel lie at offsets along the plane's normal; `mode` combines them:
 * THIN (one sample), MIP, MINIP or AVERAGE. A sample outside the volume (more than half a voxel
 * beyond the centres of the edge voxels) or in a slice not yet filled is `padding`; within half
 * a voxel of the edge the nearest edge value is used, as a scanner's reconstruction would.
 *
 * - oblique: any affine through the voxel coordinates of pixel (0, 0) and the voxel steps of one
 *   column, one row and one millimetre along the normal; trilinear or nearest, per pixel.
 * - aligned / aligned_columns / aligned_samples / extreme_lines: a plane whose column, row and
 *   normal each run along one voxel axis; each axis's indices, weights and validity come as 1-D
 *   tables (x_index (n, 2) lower and upper voxel, x_weight the upper one's weight, x_valid), and
 *   the loops run in the order that reads memory contiguously (see each kernel).
 *
 * Each kernel exists per voxel type (suffix _i16, _f32: the types a volume is built with),
 * from one body, reslice_kernels_body.h, included once per type. Returns 0, or -1 when a work
 * buffer could not be allocated.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict /* MSVC's C has restrict only from /std:c11 */
#endif

#if defined(_WIN32)
#define KERNEL_API __declspec(dllexport)
#else
#define KERNEL_API __attribute__((visibility("default")))
#endif

/* Function multiversioning: an AVX2 clone and a baseline one, chosen once at load time by the
 * dynamic linker (ifunc), so one build runs on every x86-64 and fast on recent ones. It needs
 * ifunc, hence ELF (Linux); MSVC and Mach-O (macOS) build the baseline only. */
#if defined(__x86_64__) && defined(__ELF__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define KERNEL_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef KERNEL_CLONES
#define KERNEL_CLONES
#endif

#define THIN 0
#define MIP 1
#define MINIP 2
#define AVERAGE 3

/* A hint to start reading memory needed a few pixels later (a strided run per pixel is not
 * prefetched by the hardware across pages: measured, a sagittal slab waited on memory). */
#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif
#define AHEAD 4

#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE __forceinline
#endif

/* Rows per work item of the kernels that read several rows of one slice before the next. */
#define CHUNK 8

static inline double combine(double acc, double value, int mode)
{
    if (mode == MIP) return value > acc ? value : acc;
    if (mode == MINIP) return value < acc ? value : acc;
    return acc + value;
}

static inline double start_value(int mode)
{
    if (mode == MIP) return -INFINITY;
    if (mode == MINIP) return INFINITY;
    return 0.0;
}

static inline int64_t clamp_index(int64_t value, int64_t low, int64_t high)
{
    return value < low ? low : (value > high ? high : value);
}

static inline double clamp_unit(double value)
{
    return value < 0.0 ? 0.0 : (value > 1.0 ? 1.0 : value);
}

static void min_max_column(const int64_t *index, int64_t n, int column, int64_t *low,
                           int64_t *high)
{
    int64_t lo = index[column], hi = index[column];
    for (int64_t x = 1; x < n; x++) {
        int64_t v = index[2 * x + column];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *low = lo;
    *high = hi;
}

#define T int16_t
#define SUFFIX(name) name##_i16
#include "reslice_kernels_body.h"
#undef T
#undef SUFFIX

#define T float
#define SUFFIX(name) name##_f32
#include "reslice_kernels_body.h"
#undef T
#undef SUFFIX
