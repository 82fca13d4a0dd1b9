/* Counter arithmetic for logs and metrics. */
#include <stddef.h>

#include "turn/turn_counters.h"

const int turn_stat_codes[TURN_CODE_COUNT] = {0,   300, 400, 401, 403, 420, 437, 438, 440,
                                              441, 442, 443, 446, 447, 486, 500, 508, -1};

int turn_code_index(int code)
{
    for (int i = 0; i < TURN_CODE_COUNT - 1; i++)
        if (turn_stat_codes[i] == code)
            return i;
    return TURN_CODE_COUNT - 1; /* any other code: the slot marked -1 */
}

uint64_t turn_counters_relayed(const struct turn_counters *c, int direction)
{
    const uint64_t *p = &c->relayed_pkts[direction][0][0];
    return p[0] + p[1] + p[2] + p[3];
}

uint64_t turn_counters_permissions(const struct turn_counters *c)
{
    return c->family[0].permissions + c->family[1].permissions;
}

uint64_t turn_counters_channels(const struct turn_counters *c)
{
    return c->family[0].channels + c->family[1].channels;
}

uint64_t turn_counters_cross_family(const struct turn_counters *c)
{
    uint64_t n = 0;
    for (int d = 0; d < 2; d++)
        n += c->relayed_pkts[d][0][1] + c->relayed_pkts[d][1][0];
    return n;
}

uint64_t turn_counters_dropped(const struct turn_counters *c)
{
    uint64_t n = 0;
    for (int i = 0; i < TD_COUNT; i++)
        n += c->dropped[i];
    return n;
}

/* The struct is all uint64_t, so it adds up as an array. */
void turn_counters_add(struct turn_counters *a, const struct turn_counters *b)
{
    uint64_t *pa = (uint64_t *)a;
    const uint64_t *pb = (const uint64_t *)b;
    for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
        pa[i] += pb[i];
}
