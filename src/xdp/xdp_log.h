/* libbpf's messages, kept while the loader works instead of going to stderr, to explain a failed
 * load or attach: a verifier log ends with its verdict. One capture at a time (libbpf's print
 * function is global). */
#ifndef XTURN_XDP_XDP_LOG_H
#define XTURN_XDP_XDP_LOG_H

#include <stddef.h>

#include <bpf/libbpf.h>

/* Starts keeping libbpf's messages (what an earlier capture kept is dropped); returns the print
 * function to give back to xdp_log_end. */
libbpf_print_fn_t xdp_log_begin(void);
void xdp_log_end(libbpf_print_fn_t prev);

/* The most telling part of what was kept, on one line (" | " between lines): for a rejected
 * program, the source line and the instruction the verifier stopped at (without its register
 * dump), then its verdict; else libbpf's last messages. */
void xdp_log_summary(char *out, size_t outlen);

#endif
