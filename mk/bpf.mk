# XDP program build (to be written): build/bpf/xturn.bpf.o and build/bpf/xturn.skel.h
