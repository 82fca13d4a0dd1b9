// SPDX-License-Identifier: GPL-2.0
/* Measuring harness of build/xdp_microbench. bpf_prog_test_run_opts with repeat = N runs a
 * program N times on one buffer; a relay rewrites that buffer, so from the second run on it
 * would see its own output. This program runs first each time: it puts the buffer back to the
 * original frame (moving the head back by however much the last run moved it, then writing the
 * original bytes) and tail-calls the program under test. The microbenchmark subtracts the
 * harness's own cost, measured with xdp_tx_only as the target.
 *
 * Only for frames whose tail the program under test does not cut (no ChannelData padding, no
 * trailing bytes): their length then tells how far the head moved. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define XT_BENCH_FRAME_MAX 1536

struct bench_frame {
    __u32 len;
    __u8 data[XT_BENCH_FRAME_MAX];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct bench_frame);
} bench_frame SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} bench_target SEC(".maps");

SEC("xdp")
int xdp_restore(struct xdp_md *ctx)
{
    __u32 k = 0;
    struct bench_frame *f = bpf_map_lookup_elem(&bench_frame, &k);
    long cur = (long)ctx->data_end - (long)ctx->data;
    __u32 len;

    if (!f)
        return XDP_ABORTED;
    len = f->len;
    if (len == 0 || len > XT_BENCH_FRAME_MAX)
        return XDP_ABORTED;
    /* Always called, also with 0, so every target pays the same. */
    if (bpf_xdp_adjust_head(ctx, (int)(cur - (long)len)))
        return XDP_ABORTED;
    if (bpf_xdp_store_bytes(ctx, 0, f->data, len))
        return XDP_ABORTED;
    bpf_tail_call(ctx, &bench_target, 0);
    return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
