/* The snapshot codec's cursor (turn_snapshot_codec.c): each field is one call that writes it
 * from the struct or reads it into the struct, so that the writer and the reader of a record
 * cannot disagree. turn_snapshot_fields.c: the field types. */
#ifndef XTURN_TURN_SNAPSHOT_CURSOR_H
#define XTURN_TURN_SNAPSHOT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "turn/turn_counters.h"
#include "turn/turn_server.h"

/* A cursor: writing appends to buf (oom once it cannot grow), reading takes from in[pos..end)
 * (err once anything is wrong: every later field call does nothing). */
struct cur {
    bool write;
    uint8_t *buf;
    size_t len, cap;
    bool oom;
    const uint8_t *in;
    size_t pos, end;
    const char *err;
};

/* Reading: the first reason something is wrong (every later field call does nothing). */
void cur_check(struct cur *c, bool ok, const char *why);
/* n bytes at v, as they are. */
void f_raw(struct cur *c, void *v, size_t n);
/* Unsigned integers, most significant byte first; the struct is written to only when reading. */
void f_u8(struct cur *c, uint8_t *v);
void f_u16(struct cur *c, uint16_t *v);
void f_u32(struct cur *c, uint32_t *v);
void f_u64(struct cur *c, uint64_t *v);
/* An address: family (4, 6; 0 where none may be), a zero byte, port, 16 bytes of IP (IPv4 in
 * the first 4, the rest zero). One way to write each: none is all zero. */
void f_addr(struct cur *c, struct xt_addr *a, bool none_ok);
/* A name: its length (a byte, min..cap-1), then its bytes, without NUL. */
void f_str(struct cur *c, char *s, size_t cap, size_t min);
/* Every transport's monotonic counters: how many are not zero (u16), then each as its number
 * (u16, increasing: transport x the monotonic ones + its slot) and value (u64). */
void f_counters(struct cur *c, struct turn_counters k[TURN_TRANSPORT_COUNT]);

#endif
