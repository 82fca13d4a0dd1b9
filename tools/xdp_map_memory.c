/* Measures the kernel memory the XDP binding maps use for N channel bindings of one family
 * pair: loads the program (not attached), binds N channels, and reads each map's memory use
 * as the kernel reports it (bpftool's "memlock", from /proc/self/fdinfo).
 * Usage: build/xdp_map_memory [N] [44|46|64|66] */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdp/xdp_loader.h"
#include "xdp/xdp_maps.h"

static void addr(struct xt_addr *a, int family, uint32_t n, uint16_t port)
{
    uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
    if (family == AF_INET) {
        /* 198.18.0.0/15 holds 131072 addresses; ports make the rest unique. */
        uint32_t v4 = htonl(0xC6120000u | (n & 0x1FFFF));
        xt_addr_v4(a, (const uint8_t *)&v4, port);
        return;
    }
    memcpy(ip + 12, &n, 4);
    xt_addr_v6(a, ip, port);
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
    const char *pair = argc > 2 ? argv[2] : "44";
    int cfam = pair[0] == '4' ? AF_INET : AF_INET6, pfam = pair[1] == '4' ? AF_INET : AF_INET6;
    struct xdp_options opt;
    struct xdp_prog *prog;
    char err[512];
    unsigned long long total = 0;

    memset(&opt, 0, sizeof(opt));
    opt.map_entries = n;
    prog = xdp_prog_load(&opt, err, sizeof(err));
    if (!prog) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct xt_addr c, p;
        addr(&c, cfam, i, (uint16_t)(1024 + i / 0x20000));
        addr(&p, pfam, i, (uint16_t)(2048 + i / 0x20000));
        int rc = xdp_prog_bind(prog, &c, 0x4000, &p, (uint16_t)(49152 + i % 16384), 0);
        if (rc != 0) {
            fprintf(stderr, "bind %u: %s\n", i, strerror(-rc));
            return 1;
        }
    }
    total = xdp_prog_map_memory(prog);
    printf("{\"bindings\":%u,\"pair\":\"%s\",\"map_bytes\":%llu,\"bytes_per_binding\":%.1f}\n", n,
           pair, total, (double)total / n);
    xdp_prog_close(prog);
    return 0;
}
