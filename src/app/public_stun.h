/* --public-ipv4/--public-ipv6 stun:HOST[:PORT]: the public address asked of a STUN server once
 * at start, from the relay address (RFC 8489 Binding), for relays behind 1:1 NAT. */
#ifndef XTURN_APP_PUBLIC_STUN_H
#define XTURN_APP_PUBLIC_STUN_H

#include <stddef.h>
#include <stdint.h>

#include "app/config.h"
#include "common/addr.h"
#include "stun/stun_types.h"

#define PUBLIC_STUN_TRIES   3    /* Binding requests sent, one per wait */
#define PUBLIC_STUN_WAIT_MS 1000 /* for an answer to each */

/* The datagram buf as the answer to our Binding request tid from a server asked over family:
 * 0 with the mapped address in *out, 1 if it is not that answer (ignored), -1 if it is an error
 * response or unusable, with why in err. Pure. */
int public_stun_answer(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN], int family,
                       struct xt_addr *out, char *err, size_t errlen);

/* For each family whose public address is a STUN server: asks it (PUBLIC_STUN_TRIES requests,
 * PUBLIC_STUN_WAIT_MS apart) and sets the address it saw (config_set_public). 0, or -1 with a
 * one-line message in err. */
int public_stun_discover(struct xturn_config *cfg, char *err, size_t errlen);

#endif
