/* The values of xturn's flags that need more than a type says (config_flags.c's table names
 * these): addresses and their lists, ports, names, peer rules. Each reads val into the
 * struct xturn_config at base: NULL, or why val is refused. */
#ifndef XTURN_APP_CONFIG_VALUES_H
#define XTURN_APP_CONFIG_VALUES_H

#include <stddef.h>

const char *apply_allow_peer(void *base, const char *val);
const char *apply_alternate_server(void *base, const char *val);
const char *apply_deny_peer(void *base, const char *val);
const char *apply_listen(void *base, const char *val);
const char *apply_metrics(void *base, const char *val);
const char *apply_public_ipv4(void *base, const char *val);
const char *apply_public_ipv6(void *base, const char *val);
const char *apply_realm(void *base, const char *val);
const char *apply_relay_ipv4(void *base, const char *val);
const char *apply_relay_ipv6(void *base, const char *val);
const char *apply_relay_ports(void *base, const char *val);
const char *apply_tls_listen(void *base, const char *val);
const char *apply_user(void *base, const char *val);
const char *apply_xdp(void *base, const char *val);

/* NULL if s is valid UTF-8 (RFC 3629) without control characters, with its length in characters
 * in *chars; else why not. */
const char *config_check_text(const char *s, size_t *chars);

#endif
