/* The kernels of reslice_kernels.c for one voxel type T, named SUFFIX(name); included once per
 * type (no include guard on purpose). Strides are in elements. */

static ALWAYS_INLINE double SUFFIX(trilinear)(const T *vox, int64_t nk, int64_t nj, int64_t ni,
                                       int64_t sk, int64_t sj, int64_t si,
                                       const uint8_t *filled, double x, double y, double z,
                                       double padding)
{
    if (!(-0.5 < x && x < ni - 0.5 && -0.5 < y && y < nj - 0.5 && -0.5 < z && z < nk - 0.5))
        return padding;
    /* inside, x > -0.5: truncation differs from floor only on (-0.5, 0), clamped to 0 anyway */
    int64_t i0 = clamp_index((int64_t)x, 0, ni - 2 > 0 ? ni - 2 : 0);
    int64_t j0 = clamp_index((int64_t)y, 0, nj - 2 > 0 ? nj - 2 : 0);
    int64_t k0 = clamp_index((int64_t)z, 0, nk - 2 > 0 ? nk - 2 : 0);
    int64_t i1 = i0 + 1 < ni ? i0 + 1 : ni - 1;
    int64_t j1 = j0 + 1 < nj ? j0 + 1 : nj - 1;
    int64_t k1 = k0 + 1 < nk ? k0 + 1 : nk - 1;
    double fx = clamp_unit(x - (double)i0);
    double fy = clamp_unit(y - (double)j0);
    double fz = clamp_unit(z - (double)k0);
    /* a slice still loading matters only when it has weight: a plane exactly on a filled
     * slice shows while its neighbour decodes */
    if (!((fz == 1.0 || filled[k0]) && (fz == 0.0 || filled[k1]))) return padding;
    const T *p00 = vox + k0 * sk + j0 * sj, *p01 = vox + k0 * sk + j1 * sj;
    const T *p10 = vox + k1 * sk + j0 * sj, *p11 = vox + k1 * sk + j1 * sj;
    double v, a, b, lower, upper;
    v = p00[i0 * si];
    a = v + fx * ((double)p00[i1 * si] - v);
    v = p01[i0 * si];
    b = v + fx * ((double)p01[i1 * si] - v);
    lower = a + fy * (b - a);
    v = p10[i0 * si];
    a = v + fx * ((double)p10[i1 * si] - v);
    v = p11[i0 * si];
    b = v + fx * ((double)p11[i1 * si] - v);
    upper = a + fy * (b - a);
    return lower + fz * (upper - lower);
}

/* `trilinear` for a point whose 8 neighbours are all inside a complete volume
 * (0 <= x < ni - 1, ...): the same arithmetic without the clamps and the filled checks, which
 * cost a slab about a fifth of its time. */
static ALWAYS_INLINE double SUFFIX(trilinear_inside)(const T *vox, int64_t sk, int64_t sj,
                                                     int64_t si, double x, double y, double z)
{
    int64_t i0 = (int64_t)x, j0 = (int64_t)y, k0 = (int64_t)z;
    double fx = x - (double)i0, fy = y - (double)j0, fz = z - (double)k0;
    const T *p00 = vox + k0 * sk + j0 * sj + i0 * si, *p01 = p00 + sj;
    const T *p10 = p00 + sk, *p11 = p10 + sj;
    double v, a, b, lower, upper;
    v = p00[0];
    a = v + fx * ((double)p00[si] - v);
    v = p01[0];
    b = v + fx * ((double)p01[si] - v);
    lower = a + fy * (b - a);
    v = p10[0];
    a = v + fx * ((double)p10[si] - v);
    v = p11[0];
    b = v + fx * ((double)p11[si] - v);
    upper = a + fy * (b - a);
    return lower + fz * (upper - lower);
}

static ALWAYS_INLINE double SUFFIX(nearest)(const T *vox, int64_t nk, int64_t nj, int64_t ni,
                                     int64_t sk, int64_t sj, int64_t si, const uint8_t *filled,
                                     double x, double y, double z, double padding)
{
    if (!(-0.5 < x && x < ni - 0.5 && -0.5 < y && y < nj - 0.5 && -0.5 < z && z < nk - 0.5))
        return padding;
    /* rint (half to even) as numpy does, so the two implementations agree on exact halves */
    int64_t i = clamp_index((int64_t)rint(x), 0, ni - 1);
    int64_t j = clamp_index((int64_t)rint(y), 0, nj - 1);
    int64_t k = clamp_index((int64_t)rint(z), 0, nk - 1);
    if (!filled[k]) return padding;
    return (double)vox[k * sk + j * sj + i * si];
}

/* Start reading the voxels around voxel point (x, y, z): the rows of both slices it lies
 * between (clamped into the volume, so the address is always a voxel's). */
static ALWAYS_INLINE void SUFFIX(prefetch_point)(const T *vox, int64_t nk, int64_t nj, int64_t ni,
                                          int64_t sk, int64_t sj, int64_t si, double x,
                                          double y, double z)
{
    int64_t i = clamp_index((int64_t)x, 0, ni - 1), j = clamp_index((int64_t)y, 0, nj - 1);
    int64_t k = clamp_index((int64_t)z, 0, nk - 1);
    int64_t j1 = j + 1 < nj ? j + 1 : j, k1 = k + 1 < nk ? k + 1 : k;
    PREFETCH(vox + k * sk + j * sj + i * si);
    PREFETCH(vox + k * sk + j1 * sj + i * si);
    PREFETCH(vox + k1 * sk + j * sj + i * si);
    PREFETCH(vox + k1 * sk + j1 * sj + i * si);
}

/* oblique's loops for one voxel stride along i, mode and interpolation, each given as a constant
 * by the kernel below so that the compiler drops the branches on them (a C-ordered volume's i
 * stride of 1, as numba knew from the array's layout). Neighbouring pixels of an oblique plane
 * lie in other slices, far apart in memory, where the hardware prefetcher does not look: a thin
 * plane prefetches the voxels AHEAD pixels on (measured here, it waited on its first voxel load
 * for 60% of its time without; a slab's samples mostly hit the lines its previous pixel read,
 * and prefetching them only added work). */
static ALWAYS_INLINE void SUFFIX(oblique_rows)(
    const T *vox, int64_t nk, int64_t nj, int64_t ni, int64_t sk, int64_t sj, int64_t si,
    const uint8_t *filled, const double *origin, const double *step_c, const double *step_r,
    const double *normal, const double *offsets, int64_t count, int mode, int nearest,
    double padding, float *out, int64_t cols, int64_t row_start, int64_t row_stop)
{
    int complete = 1;
    for (int64_t k = 0; k < nk; k++) complete &= filled[k] != 0;
    for (int64_t r = row_start; r < row_stop; r++) {
        double bx = origin[0] + r * step_r[0];
        double by = origin[1] + r * step_r[1];
        double bz = origin[2] + r * step_r[2];
        float *row = out + r * cols;
        for (int64_t c = 0; c < cols; c++) {
            double px = bx + c * step_c[0];
            double py = by + c * step_c[1];
            double pz = bz + c * step_c[2];
            double acc = start_value(mode);
            for (int64_t s = 0; s < count; s++) {
                if (mode == THIN)
                    SUFFIX(prefetch_point)(vox, nk, nj, ni, sk, sj, si,
                                           px + AHEAD * step_c[0] + offsets[s] * normal[0],
                                           py + AHEAD * step_c[1] + offsets[s] * normal[1],
                                           pz + AHEAD * step_c[2] + offsets[s] * normal[2]);
                double x = px + offsets[s] * normal[0];
                double y = py + offsets[s] * normal[1];
                double z = pz + offsets[s] * normal[2];
                double value;
                if (nearest)
                    value = SUFFIX(nearest)(vox, nk, nj, ni, sk, sj, si, filled, x, y, z, padding);
                else if (complete && 0.0 <= x && x < ni - 1 && 0.0 <= y && y < nj - 1 &&
                         0.0 <= z && z < nk - 1)
                    value = SUFFIX(trilinear_inside)(vox, sk, sj, si, x, y, z);
                else
                    value = SUFFIX(trilinear)(vox, nk, nj, ni, sk, sj, si, filled, x, y, z,
                                              padding);
                acc = mode == THIN ? value : combine(acc, value, mode);
            }
            row[c] = (float)(mode == AVERAGE ? acc / (double)count : acc);
        }
    }
}

/* out[r, c] from voxel point origin + c*step_c + r*step_r + offset*normal, per offset. */
KERNEL_API KERNEL_CLONES int SUFFIX(oblique)(
    const T *vox, int64_t nk, int64_t nj, int64_t ni, int64_t sk, int64_t sj, int64_t si,
    const uint8_t *filled, const double *origin, const double *step_c, const double *step_r,
    const double *normal, const double *offsets, int64_t count, int32_t mode, int32_t nearest,
    double padding, float *out, int64_t cols, int64_t row_start, int64_t row_stop)
{
#define OBLIQUE_ROWS(STRIDE, MODE, NEAREST)                                                   \
    SUFFIX(oblique_rows)(vox, nk, nj, ni, sk, sj, STRIDE, filled, origin, step_c, step_r,     \
                         normal, offsets, count, MODE, NEAREST, padding, out, cols, row_start, \
                         row_stop)
#define OBLIQUE_MODES(STRIDE, NEAREST)                                                        \
    switch (mode) {                                                                           \
    case MIP: OBLIQUE_ROWS(STRIDE, MIP, NEAREST); break;                                      \
    case MINIP: OBLIQUE_ROWS(STRIDE, MINIP, NEAREST); break;                                  \
    case AVERAGE: OBLIQUE_ROWS(STRIDE, AVERAGE, NEAREST); break;                              \
    default: OBLIQUE_ROWS(STRIDE, THIN, NEAREST); break;                                      \
    }
    if (si == 1) {
        if (nearest) { OBLIQUE_MODES(1, 1) } else { OBLIQUE_MODES(1, 0) }
    } else {
        if (nearest) { OBLIQUE_MODES(si, 1) } else { OBLIQUE_MODES(si, 0) }
    }
#undef OBLIQUE_MODES
#undef OBLIQUE_ROWS
    return 0;
}

/* line[v] = view at (r, first + v, s), interpolated along the row and slab axes; the weights
 * are tested once per line, not per voxel. */
static inline void SUFFIX(fill_line)(const T *view, int64_t s0_, int64_t s1_, int64_t s2_,
                                     int64_t r0, int64_t r1, double wr, int64_t q0, int64_t q1,
                                     double ws, int64_t first, double *line, int64_t size)
{
    const T *a0 = view + r0 * s0_ + first * s1_ + q0 * s2_;
    const T *a1 = view + r0 * s0_ + first * s1_ + q1 * s2_;
    const T *b0 = view + r1 * s0_ + first * s1_ + q0 * s2_;
    const T *b1 = view + r1 * s0_ + first * s1_ + q1 * s2_;
    if (wr == 0.0 && ws == 0.0) {
        for (int64_t v = 0; v < size; v++) line[v] = (double)a0[v * s1_];
    } else if (wr == 0.0) {
        for (int64_t v = 0; v < size; v++) {
            double a = (double)a0[v * s1_];
            line[v] = a + ws * ((double)a1[v * s1_] - a);
        }
    } else if (ws == 0.0) {
        for (int64_t v = 0; v < size; v++) {
            double a = (double)a0[v * s1_];
            line[v] = a + wr * ((double)b0[v * s1_] - a);
        }
    } else {
        for (int64_t v = 0; v < size; v++) {
            double a = (double)a0[v * s1_];
            a += ws * ((double)a1[v * s1_] - a);
            double b = (double)b0[v * s1_];
            b += ws * ((double)b1[v * s1_] - b);
            line[v] = a + wr * (b - a);
        }
    }
}

/* out[r, c] from view[r axis, c axis, slab axis] (any strides: a transposed view of the voxels).
 * Per output row and slab sample, the voxels the row needs are first interpolated along the row
 * and slab axes into a line along the column axis, which the columns then interpolate from: the
 * branches on weights leave the inner loops. */
KERNEL_API KERNEL_CLONES int SUFFIX(aligned)(
    const T *view, int64_t stride_r, int64_t stride_c, int64_t stride_s,
    const int64_t *r_index, const double *r_weight, const uint8_t *r_valid,
    const int64_t *c_index, const double *c_weight, const uint8_t *c_valid,
    const int64_t *s_index, const double *s_weight, const uint8_t *s_valid, int64_t count,
    int32_t mode, double padding, float *out, int64_t cols, int64_t row_start, int64_t row_stop)
{
    int64_t first, last, unused;
    min_max_column(c_index, cols, 0, &first, &unused);
    min_max_column(c_index, cols, 1, &unused, &last);
    int64_t size = last - first + 1;
    double *line = malloc((size_t)size * sizeof(double));
    if (!line) return -1;
    for (int64_t r = row_start; r < row_stop; r++) {
        float *row = out + r * cols;
        if (!r_valid[r]) {
            for (int64_t c = 0; c < cols; c++) row[c] = (float)padding;
            continue;
        }
        for (int64_t s = 0; s < count; s++) {
            if (s_valid[s])
                SUFFIX(fill_line)(view, stride_r, stride_c, stride_s, r_index[2 * r],
                                  r_index[2 * r + 1], r_weight[r], s_index[2 * s],
                                  s_index[2 * s + 1], s_weight[s], first, line, size);
            for (int64_t c = 0; c < cols; c++) {
                double value;
                if (s_valid[s] && c_valid[c]) {
                    double a = line[c_index[2 * c] - first];
                    value = a + c_weight[c] * (line[c_index[2 * c + 1] - first] - a);
                } else {
                    value = padding;
                }
                /* accumulated in the float32 output, as the numba kernels did */
                row[c] = (float)(s == 0 ? value : combine((double)row[c], value, mode));
            }
        }
        if (mode == AVERAGE)
            for (int64_t c = 0; c < cols; c++) row[c] = (float)((double)row[c] / (double)count);
    }
    free(line);
    return 0;
}

/* line = (a0 -> a1 by w) -> (b0 -> b1 by w) by wb, reading b only when wb has weight. */
static inline void SUFFIX(lerp_lines)(const T *restrict a0, const T *restrict a1,
                                      const T *restrict b0, const T *restrict b1, double w,
                                      double wb, double *restrict line, int64_t size)
{
    if (wb == 0.0) {
        if (w == 0.0) {
            for (int64_t x = 0; x < size; x++) line[x] = (double)a0[x];
        } else {
            for (int64_t x = 0; x < size; x++) {
                double p = (double)a0[x];
                line[x] = p + w * ((double)a1[x] - p);
            }
        }
        return;
    }
    if (w == 0.0) {
        for (int64_t x = 0; x < size; x++) {
            double p = (double)a0[x];
            line[x] = p + wb * ((double)b0[x] - p);
        }
        return;
    }
    for (int64_t x = 0; x < size; x++) {
        double p = (double)a0[x];
        p += w * ((double)a1[x] - p);
        double q = (double)b0[x];
        q += w * ((double)b1[x] - q);
        line[x] = p + wb * (q - p);
    }
}

/* `aligned` for a plane whose columns run along voxel axis i (axial, coronal), on C-ordered
 * voxels (nk, nj, ni): the lines are contiguous runs, read as such (vectorised). The rows run
 * along k when r_is_k (the slab along j), else along j (the slab along k).
 *
 * Memory is read in the order it lies: a coronal row's slab is one block of a slice, so each row
 * loops its samples; an axial slab spans slices, so CHUNK rows at a time loop over the slices.
 * Columns that each take one voxel (on the grid, or nearest) commute with the slab's
 * combination: whole lines are combined first (in `combined`, one per row) and the columns
 * picked once at the end. */
KERNEL_API KERNEL_CLONES int SUFFIX(aligned_columns)(
    const T *vox, int64_t nj, int64_t ni, int32_t r_is_k,
    const int64_t *r_index, const double *r_weight, const uint8_t *r_valid,
    const int64_t *c_index, const double *c_weight, const uint8_t *c_valid,
    const int64_t *s_index, const double *s_weight, const uint8_t *s_valid, int64_t count,
    int32_t mode, double padding, float *out, int64_t cols, int64_t row_start, int64_t row_stop)
{
    int64_t first, last, unused;
    min_max_column(c_index, cols, 0, &first, &unused);
    min_max_column(c_index, cols, 1, &unused, &last);
    int64_t size = last + 1 - first;
    int picks = 1;
    for (int64_t c = 0; c < cols; c++) picks &= c_weight[c] == 0.0;
    int64_t nrows = row_stop - row_start;
    double *line = malloc((size_t)size * sizeof(double));
    double *combined = picks ? malloc((size_t)(nrows > 0 ? nrows : 1) * (size_t)size * sizeof(double)) : NULL;
    if (!line || (picks && !combined)) {
        free(line);
        free(combined);
        return -1;
    }
    for (int64_t start = row_start; start < row_stop; start += CHUNK) {
        int64_t stop = start + CHUNK < row_stop ? start + CHUNK : row_stop;
        int64_t outer_n = r_is_k ? stop - start : count, inner_n = r_is_k ? count : stop - start;
        for (int64_t outer = 0; outer < outer_n; outer++) {
            for (int64_t inner = 0; inner < inner_n; inner++) {
                int64_t r = start + (r_is_k ? outer : inner);
                int64_t s = r_is_k ? inner : outer;
                if (!r_valid[r]) continue;
                if (!s_valid[s]) {
                    for (int64_t x = 0; x < size; x++) line[x] = padding;
                } else {
                    int64_t r0 = r_index[2 * r], r1 = r_index[2 * r + 1];
                    int64_t q0 = s_index[2 * s], q1 = s_index[2 * s + 1];
                    const T *a0, *a1, *b0, *b1;
                    if (r_is_k) {
                        a0 = vox + (r0 * nj + q0) * ni + first;
                        a1 = vox + (r0 * nj + q1) * ni + first;
                        b0 = vox + (r1 * nj + q0) * ni + first;
                        b1 = vox + (r1 * nj + q1) * ni + first;
                    } else {
                        a0 = vox + (q0 * nj + r0) * ni + first;
                        a1 = vox + (q1 * nj + r0) * ni + first;
                        b0 = vox + (q0 * nj + r1) * ni + first;
                        b1 = vox + (q1 * nj + r1) * ni + first;
                    }
                    SUFFIX(lerp_lines)(a0, a1, b0, b1, s_weight[s], r_weight[r], line, size);
                }
                if (picks) {
                    double *keep = combined + (r - row_start) * size;
                    if (s == 0) {
                        for (int64_t x = 0; x < size; x++) keep[x] = line[x];
                    } else if (mode == MIP) {
                        for (int64_t x = 0; x < size; x++)
                            keep[x] = line[x] > keep[x] ? line[x] : keep[x];
                    } else if (mode == MINIP) {
                        for (int64_t x = 0; x < size; x++)
                            keep[x] = line[x] < keep[x] ? line[x] : keep[x];
                    } else {
                        for (int64_t x = 0; x < size; x++) keep[x] += line[x];
                    }
                    continue;
                }
                float *row = out + r * cols;
                for (int64_t c = 0; c < cols; c++) {
                    double value;
                    if (c_valid[c]) {
                        double a = line[c_index[2 * c] - first];
                        value = a + c_weight[c] * (line[c_index[2 * c + 1] - first] - a);
                    } else {
                        value = padding;
                    }
                    row[c] = (float)(s == 0 ? value : combine((double)row[c], value, mode));
                }
            }
        }
    }
    for (int64_t r = row_start; r < row_stop; r++) {
        float *row = out + r * cols;
        if (!r_valid[r]) {
            for (int64_t c = 0; c < cols; c++) row[c] = (float)padding;
            continue;
        }
        if (picks) {
            const double *keep = combined + (r - row_start) * size;
            for (int64_t c = 0; c < cols; c++)
                row[c] = (float)(c_valid[c] ? keep[c_index[2 * c] - first] : padding);
        }
        if (mode == AVERAGE)
            for (int64_t c = 0; c < cols; c++)
                if (c_valid[c] || !picks) /* picked padding was never summed */
                    row[c] = (float)((double)row[c] / (double)count);
    }
    free(line);
    free(combined);
    return 0;
}

/* `aligned_columns` for a MIP / MinIP whose every sample is one voxel (rows, columns and slab on
 * the grid, or nearest): whole lines compared in the voxels' own type, as numpy's max over
 * slices would, CHUNK rows at a time over the slices. The caller checks that the padding fits
 * that type. */
KERNEL_API KERNEL_CLONES int SUFFIX(extreme_lines)(
    const T *vox, int64_t nj, int64_t ni, int32_t r_is_k,
    const int64_t *r_index, const uint8_t *r_valid, const int64_t *c_index,
    const uint8_t *c_valid, const int64_t *s_index, const uint8_t *s_valid, int64_t count,
    int32_t maximum, double padding, float *out, int64_t cols, int64_t row_start,
    int64_t row_stop)
{
    int64_t first, last;
    min_max_column(c_index, cols, 0, &first, &last);
    int64_t size = last + 1 - first;
    T fill = (T)padding;
    T *best = malloc((size_t)CHUNK * (size_t)size * sizeof(T));
    if (!best) return -1;
    for (int64_t start = row_start; start < row_stop; start += CHUNK) {
        int64_t stop = start + CHUNK < row_stop ? start + CHUNK : row_stop;
        int64_t outer_n = r_is_k ? stop - start : count, inner_n = r_is_k ? count : stop - start;
        for (int64_t outer = 0; outer < outer_n; outer++) {
            for (int64_t inner = 0; inner < inner_n; inner++) {
                int64_t n = r_is_k ? outer : inner;
                int64_t s = r_is_k ? inner : outer;
                int64_t r0 = r_index[2 * (start + n)], q0 = s_index[2 * s];
                const T *restrict line = r_is_k ? vox + (r0 * nj + q0) * ni + first
                                                : vox + (q0 * nj + r0) * ni + first;
                T *restrict row = best + n * size;
                if (!s_valid[s]) {
                    for (int64_t x = 0; x < size; x++)
                        if (s == 0 || (fill > row[x]) == (maximum != 0)) row[x] = fill;
                } else if (s == 0) {
                    for (int64_t x = 0; x < size; x++) row[x] = line[x];
                } else if (maximum) {
                    for (int64_t x = 0; x < size; x++) row[x] = line[x] > row[x] ? line[x] : row[x];
                } else {
                    for (int64_t x = 0; x < size; x++) row[x] = line[x] < row[x] ? line[x] : row[x];
                }
            }
        }
        for (int64_t n = 0; n < stop - start; n++) {
            int64_t r = start + n;
            float *row = out + r * cols;
            for (int64_t c = 0; c < cols; c++)
                row[c] = (r_valid[r] && c_valid[c]) ? (float)best[n * size + c_index[2 * c] - first]
                                                    : (float)padding;
        }
    }
    free(best);
    return 0;
}

/* The combination (`mode`) of (a0 -> a1 by w) -> (b0 -> b1 by wb) over a run of `size` voxels.
 * Written out per mode and per case: with the mode tested inside the loop, or the four runs
 * always read, it ran 3x slower (numba; the same shape here). A run without weight is replaced by
 * the one it starts from (v + 0 * (v - v) == v), so it is not read. */
static inline double SUFFIX(combine_run)(const T *a0, const T *a1, const T *b0, const T *b1,
                                         double w, double wb, int mode, int64_t size)
{
    if (wb == 0.0) {
        b0 = a0;
        b1 = a1;
    }
    double acc = start_value(mode);
    if (w == 0.0) {
        if (mode == MIP) {
            for (int64_t x = 0; x < size; x++) {
                double p = (double)a0[x], v = p + wb * ((double)b0[x] - p);
                acc = v > acc ? v : acc;
            }
        } else if (mode == MINIP) {
            for (int64_t x = 0; x < size; x++) {
                double p = (double)a0[x], v = p + wb * ((double)b0[x] - p);
                acc = v < acc ? v : acc;
            }
        } else {
            for (int64_t x = 0; x < size; x++) {
                double p = (double)a0[x];
                acc += p + wb * ((double)b0[x] - p);
            }
        }
        return acc;
    }
    for (int64_t x = 0; x < size; x++) {
        double p = (double)a0[x];
        p += w * ((double)a1[x] - p);
        double q = (double)b0[x];
        q += w * ((double)b1[x] - q);
        acc = combine(acc, p + wb * (q - p), mode);
    }
    return acc;
}

/* `aligned` for a slab across voxel axis i (sagittal), on C-ordered voxels: per pixel, the
 * samples come from one contiguous run along i. The rows run along k when r_is_k, else along j.
 * When the samples are the voxels of the run, each once and inside the volume (a slab on the
 * grid, as slab_offsets gives), each pixel is combined straight from the run in one loop;
 * otherwise the run is interpolated into a line first and the samples taken from it. */
KERNEL_API KERNEL_CLONES int SUFFIX(aligned_samples)(
    const T *vox, int64_t nj, int64_t ni, int32_t r_is_k,
    const int64_t *r_index, const double *r_weight, const uint8_t *r_valid,
    const int64_t *c_index, const double *c_weight, const uint8_t *c_valid,
    const int64_t *s_index, const double *s_weight, const uint8_t *s_valid, int64_t count,
    int32_t mode, double padding, float *out, int64_t cols, int64_t row_start, int64_t row_stop)
{
    int64_t first, last, unused;
    min_max_column(s_index, count, 0, &first, &last);
    int64_t size = last + 1 - first;
    int direct = size == count;
    for (int64_t s = 0; s < count && direct; s++) direct = s_weight[s] == 0.0 && s_valid[s];
    if (direct) { /* each voxel of the run exactly once */
        uint8_t *seen = calloc((size_t)size, 1);
        if (!seen) return -1;
        for (int64_t s = 0; s < count; s++) seen[s_index[2 * s] - first] = 1;
        for (int64_t x = 0; x < size; x++) direct &= seen[x];
        free(seen);
    }
    if (!direct) {
        min_max_column(s_index, count, 1, &unused, &last);
        size = last + 1 - first;
    }
    double *line = malloc((size_t)size * sizeof(double));
    if (!line) return -1;
    for (int64_t r = row_start; r < row_stop; r++) {
        float *row = out + r * cols;
        if (!r_valid[r]) {
            for (int64_t c = 0; c < cols; c++) row[c] = (float)padding;
            continue;
        }
        int64_t r0 = r_index[2 * r], r1 = r_index[2 * r + 1];
        double wr = r_weight[r];
        for (int64_t c = 0; c < cols; c++) {
            if (!c_valid[c]) {
                row[c] = (float)padding;
                continue;
            }
            int64_t c0 = c_index[2 * c], c1 = c_index[2 * c + 1];
            double wc = c_weight[c];
            if (c + AHEAD < cols) {
                int64_t ahead = c_index[2 * (c + AHEAD)];
                const T *p0 = r_is_k ? vox + (r0 * nj + ahead) * ni + first
                                     : vox + (ahead * nj + r0) * ni + first;
                const T *p1 = r_is_k ? vox + (r1 * nj + ahead) * ni + first
                                     : vox + (ahead * nj + r1) * ni + first;
                PREFETCH(p0);
                PREFETCH(p0 + size - 1);
                PREFETCH(p1);
                PREFETCH(p1 + size - 1);
            }
            const T *a0, *a1, *b0, *b1;
            if (r_is_k) {
                a0 = vox + (r0 * nj + c0) * ni + first;
                a1 = vox + (r0 * nj + c1) * ni + first;
                b0 = vox + (r1 * nj + c0) * ni + first;
                b1 = vox + (r1 * nj + c1) * ni + first;
            } else {
                a0 = vox + (c0 * nj + r0) * ni + first;
                a1 = vox + (c1 * nj + r0) * ni + first;
                b0 = vox + (c0 * nj + r1) * ni + first;
                b1 = vox + (c1 * nj + r1) * ni + first;
            }
            double acc;
            if (direct) {
                acc = SUFFIX(combine_run)(a0, a1, b0, b1, wc, wr, mode, size);
            } else {
                SUFFIX(lerp_lines)(a0, a1, b0, b1, wc, wr, line, size);
                acc = 0.0;
                for (int64_t s = 0; s < count; s++) {
                    double value;
                    if (s_valid[s]) {
                        double a = line[s_index[2 * s] - first];
                        value = a + s_weight[s] * (line[s_index[2 * s + 1] - first] - a);
                    } else {
                        value = padding;
                    }
                    acc = s == 0 ? value : combine(acc, value, mode);
                }
            }
            row[c] = (float)(mode == AVERAGE ? acc / (double)count : acc);
        }
    }
    free(line);
    return 0;
}
