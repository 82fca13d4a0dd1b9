// SPDX-License-Identifier: GPL-2.0
/* Passes every frame. On a veth, frames sent with XDP_TX or redirected by the far side are
 * dropped unless this side has an XDP program: the tests attach this one there. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
