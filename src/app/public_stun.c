#include "app/public_stun.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "stun/stun.h"

int public_stun_answer(const uint8_t *buf, size_t len, const uint8_t tid[STUN_TID_LEN], int family,
                       struct xt_addr *out, char *err, size_t errlen)
{
    struct stun_msg m;
    const struct stun_attr *a;
    const uint8_t *reason;
    size_t reason_len;
    int code;

    if (stun_parse(buf, len, &m) != STUN_OK || m.method != STUN_BINDING ||
        memcmp(m.tid, tid, STUN_TID_LEN) != 0 || (m.cls != STUN_SUCCESS && m.cls != STUN_ERROR))
        return 1;
    if (m.cls == STUN_ERROR) {
        a = stun_find(&m, STUN_ATTR_ERROR_CODE);
        if (a && stun_attr_error_code(a, &code, &reason, &reason_len) == 0)
            snprintf(err, errlen, "error response %d %.*s", code, (int)reason_len,
                     (const char *)reason);
        else
            snprintf(err, errlen, "error response without a valid ERROR-CODE");
        return -1;
    }
    /* XOR-MAPPED-ADDRESS, else the plain MAPPED-ADDRESS of RFC 3489 servers. */
    if ((a = stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS)) != NULL) {
        if (stun_attr_xor_addr(&m, a, out) != 0) {
            snprintf(err, errlen, "malformed XOR-MAPPED-ADDRESS");
            return -1;
        }
    } else if ((a = stun_find(&m, STUN_ATTR_MAPPED_ADDRESS)) != NULL) {
        if (stun_attr_addr(a, out) != 0) {
            snprintf(err, errlen, "malformed MAPPED-ADDRESS");
            return -1;
        }
    } else {
        snprintf(err, errlen, "success response without XOR-MAPPED-ADDRESS");
        return -1;
    }
    if (out->family != family || xt_addr_is_any(out)) {
        char as[XT_ADDR_STRLEN];
        snprintf(err, errlen, "mapped address %s is not a usable IPv%c address",
                 xt_addr_str(out, as), family == AF_INET ? '4' : '6');
        return -1;
    }
    return 0;
}

/* The server's address of that family; 0 or -1. */
static int resolve(const struct public_stun *s, int family, struct xt_addr *out, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    char port[8];
    int rc;

    snprintf(port, sizeof(port), "%u", s->port);
    rc = getaddrinfo(s->host, port, &hints, &res);
    if (rc != 0 || !res || xt_addr_from_sockaddr(res->ai_addr, res->ai_addrlen, out) != 0) {
        snprintf(err, errlen, "cannot resolve to an IPv%c address: %s",
                 family == AF_INET ? '4' : '6', rc ? gai_strerror(rc) : "no usable address");
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return 0;
}

/* A socket on the relay address (any port), connected to the server: its answers only. */
static int open_socket(const struct xt_addr *relay, const struct xt_addr *server, char *err,
                       size_t errlen)
{
    struct sockaddr_storage ss;
    struct xt_addr local = *relay;
    socklen_t sl;
    int fd = socket(server->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    local.port = 0;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    sl = xt_addr_to_sockaddr(&local, &ss);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "bind to the relay address: %s", strerror(errno));
        close(fd);
        return -1;
    }
    sl = xt_addr_to_sockaddr(server, &ss);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends the request and waits up to PUBLIC_STUN_WAIT_MS for its answer: 0 answered, 1 not in
 * time, -1 failed (err). */
static int try_once(int fd, const uint8_t *req, size_t reqlen, const uint8_t tid[STUN_TID_LEN],
                    int family, struct xt_addr *out, char *err, size_t errlen)
{
    uint64_t deadline = xt_mono_ms() + PUBLIC_STUN_WAIT_MS;
    uint8_t buf[1500];

    /* A refused send (no route yet, ICMP from an earlier try) is retried like a lost one. */
    (void)send(fd, req, reqlen, 0);
    for (uint64_t now = xt_mono_ms(); now < deadline; now = xt_mono_ms()) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int rc;

        if (poll(&p, 1, (int)(deadline - now)) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) { /* an ICMP error: nothing more comes for this try, so wait it out */
            now = xt_mono_ms();
            poll(NULL, 0, now < deadline ? (int)(deadline - now) : 0);
            continue;
        }
        rc = public_stun_answer(buf, (size_t)n, tid, family, out, err, errlen);
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* One family: the server asked from the relay address. 0, or -1 with why in err. */
static int discover(struct xturn_config *cfg, int family, char *err, size_t errlen)
{
    const struct public_stun *s = &cfg->public_stun[xt_family_index((uint16_t)family)];
    const struct xt_addr *relay = family == AF_INET ? &cfg->turn.relay_v4 : &cfg->turn.relay_v6;
    struct xt_addr server, mapped;
    struct stun_builder b;
    uint8_t tid[STUN_TID_LEN], req[STUN_HEADER_LEN];
    char why[256] = "", as[XT_ADDR_STRLEN], ms[XT_ADDR_STRLEN];
    int fd, reqlen, rc = 1;
    bool v6lit = strchr(s->host, ':') != NULL;

    if (resolve(s, family, &server, why, sizeof(why)) != 0)
        goto fail;
    if (getrandom(tid, sizeof(tid), 0) != (ssize_t)sizeof(tid)) {
        snprintf(why, sizeof(why), "getrandom: %s", strerror(errno));
        goto fail;
    }
    stun_build_init(&b, req, sizeof(req), STUN_BINDING, STUN_REQUEST, tid);
    reqlen = stun_finish(&b);
    fd = open_socket(relay, &server, why, sizeof(why));
    if (fd < 0)
        goto fail;
    for (int i = 0; i < PUBLIC_STUN_TRIES && rc == 1; i++)
        rc = try_once(fd, req, (size_t)reqlen, tid, family, &mapped, why, sizeof(why));
    close(fd);
    if (rc == 1)
        snprintf(why, sizeof(why), "%s: no answer to %d Binding requests in %d ms",
                 xt_addr_str(&server, as), PUBLIC_STUN_TRIES,
                 PUBLIC_STUN_TRIES * PUBLIC_STUN_WAIT_MS);
    if (rc != 0)
        goto fail;
    config_set_public(cfg, &mapped);
    xt_log(LOG_INFO, "public address from STUN", "server", xt_addr_str(&server, as), "public",
           xt_addr_ip_str(&mapped, ms), NULL);
    return 0;
fail:
    snprintf(err, errlen, "--public-ipv%c: \"stun:%s%s%s:%u\": %s", family == AF_INET ? '4' : '6',
             v6lit ? "[" : "", s->host, v6lit ? "]" : "", s->port, why);
    return -1;
}

int public_stun_discover(struct xturn_config *cfg, char *err, size_t errlen)
{
    if (cfg->public_stun[0].host && discover(cfg, AF_INET, err, errlen) != 0)
        return -1;
    if (cfg->public_stun[1].host && discover(cfg, AF_INET6, err, errlen) != 0)
        return -1;
    return 0;
}
