/* xturn-bench: `client` (TURN load generator) and `sink` (UDP counter/echo) subcommands. */
#include "bench.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        bench_err("missing command: client or sink (--help)");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        bench_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "client") == 0) {
        static struct client_opts o;
        int r = client_parse(argc - 1, argv + 1, &o);
        return r < 0 ? 2 : r > 0 ? 0 : client_main(&o);
    }
    if (strcmp(argv[1], "sink") == 0) {
        static struct sink_opts o;
        int r = sink_parse(argc - 1, argv + 1, &o);
        return r < 0 ? 2 : r > 0 ? 0 : sink_main(&o);
    }
    bench_err("unknown command '%s' (want client or sink; --help)", argv[1]);
    return 2;
}
