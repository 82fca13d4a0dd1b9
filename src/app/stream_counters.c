#include "app/stream_counters.h"

const char *const stream_refusal_names[SR_COUNT] = {
    [SR_MAX_TOTAL] = "max_connections",     [SR_MAX_PER_IP] = "max_per_ip",
    [SR_NO_FD] = "no_file_descriptor",      [SR_NO_MEMORY] = "no_memory",
    [SR_UNKNOWN_SOURCE] = "unknown_source",
};

const char *const stream_close_names[SC_COUNT] = {
    [SC_CLIENT_CLOSED] = "client_closed", [SC_FIRST_MESSAGE_TIMEOUT] = "first_message_timeout",
    [SC_IDLE_TIMEOUT] = "idle_timeout",   [SC_NOT_TURN] = "not_turn",
    [SC_BAD_COOKIE] = "bad_cookie",       [SC_STUN_LENGTH] = "stun_length",
    [SC_BUFFER_BUDGET] = "buffer_budget", [SC_TLS_ERROR] = "tls_error",
    [SC_READ_ERROR] = "read_error",       [SC_WRITE_ERROR] = "write_error",
    [SC_SHUTDOWN] = "shutdown",           [SC_HANDED_OVER] = "handed_over",
};

void stream_counters_add(struct stream_counters *a, const struct stream_counters *b)
{
    a->open += b->open;
    a->accepted += b->accepted;
    for (int i = 0; i < SR_COUNT; i++)
        a->refused[i] += b->refused[i];
    for (int i = 0; i < SC_COUNT; i++)
        a->closed[i] += b->closed[i];
    a->slow_reader_drops += b->slow_reader_drops;
}
