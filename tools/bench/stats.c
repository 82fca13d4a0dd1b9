/* Latency percentiles: a log-linear histogram in the manner of HdrHistogram. Values below
 * HIST_SUB are exact; above, every power of two is split into HIST_SUB buckets, so a bucket's
 * midpoint is within 1/(2*HIST_SUB) of any value in it. Fixed size, no allocation per sample. */
#include "bench.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    unsigned e, shift;
    if (v < HIST_SUB)
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    shift = e - HIST_SUB_BITS;
    return HIST_SUB + shift * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

/* The midpoint of a bucket. */
static uint64_t bucket_value(unsigned i)
{
    unsigned shift, mant;
    if (i < HIST_SUB)
        return i;
    shift = (i - HIST_SUB) / HIST_SUB;
    mant = (i - HIST_SUB) % HIST_SUB;
    return ((uint64_t)(HIST_SUB + mant) << shift) + ((1ull << shift) >> 1);
}

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum += (long double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t rank, seen = 0;
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    /* The smallest value with at least q of the samples at or below it. */
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}
