/* A live upgrade's XDP counters across a change of XT_ABI_VERSION (src/xdp/xdp_stats.c,
 * xdp_stats_carry_map): which counter of the previous build's stats map goes to which of this
 * build's, by the names its BTF tag lists, else by position. Without loading anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "xdp/xdp_stats.h"

/* This build's own tag: every counter to itself. */
static void test_same_names(void **state)
{
    int to[XT_STAT_COUNT];

    (void)state;
    assert_true(xdp_stats_carry_map(XT_STATS_TAG, XT_STAT_COUNT, to));
    for (int i = 0; i < XT_STAT_COUNT; i++)
        assert_int_equal(to[i], i);
}

/* Another order, a counter this build does not have, one it does not list: by name. */
static void test_other_names(void **state)
{
    int to[5];

    (void)state;
    assert_true(xdp_stats_carry_map(XT_STATS_TAG_PREFIX "c2p_44,pass_gone,drop_ttl,c2c_self,p2c_66",
                                    5, to));
    assert_int_equal(to[0], XT_C2P_44);
    assert_int_equal(to[1], -1);
    assert_int_equal(to[2], XT_DROP_TTL);
    assert_int_equal(to[3], XT_C2C_SELF);
    assert_int_equal(to[4], XT_P2C_66);
}

/* No tag (a build before it), one for another number of counters than the map has, or not
 * ours: by position, the common prefix. */
static void test_by_position(void **state)
{
    const char *tags[] = {NULL, XT_STATS_TAG_PREFIX "c2p_44,c2p_46,", XT_STATS_TAG,
                          "other:c2p_44,c2p_46,c2p_64"};
    int to[XT_STAT_COUNT + 2];

    (void)state;
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
        assert_false(xdp_stats_carry_map(tags[t], 3, to));
        for (int i = 0; i < 3; i++)
            assert_int_equal(to[i], i);
    }
    assert_false(xdp_stats_carry_map(NULL, XT_STAT_COUNT + 2, to));
    assert_int_equal(to[XT_STAT_COUNT - 1], XT_STAT_COUNT - 1);
    assert_int_equal(to[XT_STAT_COUNT], -1);
    assert_int_equal(to[XT_STAT_COUNT + 1], -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_names),
        cmocka_unit_test(test_other_names),
        cmocka_unit_test(test_by_position),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
