/* Transport addresses (IP + port) in one compact, hashable form used by every layer. */
#ifndef XTURN_COMMON_ADDR_H
#define XTURN_COMMON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* family is AF_INET or AF_INET6; ip holds the address in network byte order (IPv4 in the first
 * four bytes, the rest zero); port is in host byte order. Always zero-initialise so that memcmp
 * and hashing over the whole struct are meaningful. */
struct xt_addr {
    uint16_t family;
    uint16_t port;
    uint8_t ip[16];
};

#define XT_ADDR_STRLEN 64 /* "[ffff:...:ffff]:65535" with room to spare */

void xt_addr_v4(struct xt_addr *a, const uint8_t ip[4], uint16_t port);
void xt_addr_v6(struct xt_addr *a, const uint8_t ip[16], uint16_t port);
size_t xt_addr_iplen(const struct xt_addr *a);
bool xt_addr_equal(const struct xt_addr *a, const struct xt_addr *b);
bool xt_addr_ip_equal(const struct xt_addr *a, const struct xt_addr *b);
uint32_t xt_addr_hash(const struct xt_addr *a, uint32_t seed);
uint32_t xt_addr_ip_hash(const struct xt_addr *a, uint32_t seed);

/* Parse "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5". Without a port, default_port is used.
 * Returns 0 or -1. */
int xt_addr_parse(const char *s, uint16_t default_port, struct xt_addr *out);
/* Parse a bare IP literal (no port, no brackets). Returns 0 or -1. */
int xt_addr_parse_ip(const char *s, struct xt_addr *out);
/* "1.2.3.4:5" / "[::1]:5"; returns buf. */
const char *xt_addr_str(const struct xt_addr *a, char buf[XT_ADDR_STRLEN]);
/* IP only, no port, no brackets. */
const char *xt_addr_ip_str(const struct xt_addr *a, char buf[XT_ADDR_STRLEN]);

socklen_t xt_addr_to_sockaddr(const struct xt_addr *a, struct sockaddr_storage *ss);
int xt_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct xt_addr *out);

bool xt_addr_is_any(const struct xt_addr *a);
/* The first of the n addresses at a of this family, or NULL. */
const struct xt_addr *xt_addr_first_of(const struct xt_addr *a, size_t n, int family);

/* 0 for AF_INET, 1 for AF_INET6: the index of every per-family array. */
static inline int xt_family_index(uint16_t family)
{
    return family == AF_INET ? 0 : 1;
}

#endif
