#include "app/openssl_random.h"

#include <limits.h>
#include <openssl/rand.h>

/* RAND_bytes is safe to call from every worker's thread. */
static int fill(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    if (len > INT_MAX)
        return -1;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

const struct turn_random openssl_random = {.fill = fill, .ctx = NULL};
