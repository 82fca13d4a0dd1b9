/* Daemon configuration from the command line and XTURN_* environment variables. Every flag,
 * its field and its default are in src/app/config_flags.c. */
#ifndef XTURN_APP_CONFIG_H
#define XTURN_APP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/addr.h"
#include "common/log.h"
#include "turn/turn_config.h"

#ifndef XTURN_VERSION
#define XTURN_VERSION "0.1.0"
#endif

#define XTURN_DEFAULT_PORT 3478 /* of a --listen, --alternate-server without one */
#define XTURN_TLS_PORT     5349 /* of a --tls-listen without one (RFC 7065) */
#define XTURN_METRICS_PORT 9641 /* of a --metrics without one */

/* --xdp-mode: auto is native, else generic with a warning. */
enum xdp_mode { XDP_MODE_AUTO = 0, XDP_MODE_NATIVE, XDP_MODE_GENERIC };

struct xturn_config {
    struct xt_addr *listen;
    size_t nlisten;
    struct turn_config turn;
    /* Stream clients: TCP on every --listen address unless no_tcp */
    bool no_tcp;
    /* TLS (and, on the same ports, plain TCP) */
    struct xt_addr *tls_listen;
    size_t ntls_listen;
    char *tls_cert, *tls_key; /* PEM files, read again on SIGHUP */
    uint32_t max_stream_conns, max_stream_conns_per_ip;
    uint32_t stream_first_message_s, stream_idle_s;
    enum log_level log_level;
    enum log_format log_format;
    char *auth_secret_file; /* remembered for reload */
    size_t nflag_secrets;   /* turn.secrets[0..n) came from flags, the rest from the file */
    uint32_t workers;       /* relay threads; 0: one per online CPU */
    bool no_udp_gso;        /* never UDP_SEGMENT: every datagram its own send */
    bool no_udp_gro;        /* never UDP_GRO: every datagram its own receive */
    /* --public-ipv4/--public-ipv6 stun:HOST[:PORT]: the STUN server asked once at start
     * (public_stun.c) for turn.public_v4/v6; host NULL otherwise. [0] IPv4, [1] IPv6. */
    struct public_stun {
        char *host; /* a name or an IP address, without brackets */
        uint16_t port;
    } public_stun[2];
    /* Operations */
    struct xt_addr metrics;           /* family 0: no metrics endpoint */
    uint32_t drain_timeout_s;         /* 0: SIGTERM exits at once */
    char *log_file;                   /* NULL: stdout */
    char *run_as_user, *run_as_group; /* drop privileges to these after start-up */
    /* XDP fast path: off unless interfaces are given. */
    char **xdp_ifaces;
    size_t nxdp_ifaces;
    enum xdp_mode xdp_mode;
    bool xdp_cross_family;
    uint32_t xdp_map_size; /* entries per binding map */
};

/* Fills cfg from argv, then XTURN_<FLAG> for every flag not on the command line (repeatable flags
 * take a comma-separated list there). Returns 0 ok, 1 if --help/--version was printed to stdout
 * (exit 0), -1 on error with a one-line message in err. On anything but 0, cfg holds nothing to
 * free; config_free is safe either way. Resets getopt, so it may be called repeatedly. */
int config_parse(int argc, char **argv, struct xturn_config *cfg, char *err, size_t errlen);
void config_free(struct xturn_config *cfg);
/* Sets the public address of ip's family (port ignored), found after config_parse, at most once
 * per family and only where no --public-* address was given. */
void config_set_public(struct xturn_config *cfg, const struct xt_addr *ip);
/* The --help text: every flag, one line each, with its environment variable. */
void config_usage(FILE *out);

/* Reads the secrets in path (one per non-empty line, '#' starts a comment line) and appends them
 * to *secrets. For start-up and for reloading. 0, or -1 with a message in err (unreadable, or no
 * secret in the file); on -1 the list holds what it held before. */
/* Appends a copy of one secret; 0 or -1 (out of memory). */
int config_push_secret(char ***secrets, size_t *n, const char *secret);
/* Wipes and frees a secret list. */
void config_free_secrets(char **secrets, size_t n);

int config_read_secret_file(const char *path, char ***secrets, size_t *nsecrets, char *err,
                            size_t errlen);

#endif
