#include "app/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* sd_notify returns 0 without NOTIFY_SOCKET and a negative errno when the message cannot be
 * sent; neither is worth failing over (the manager then times the service out), and nothing
 * here must ever log a secret, so failures are ignored. unset_environment is 0 throughout:
 * the variables stay for later calls. */

/* Sends field (e.g. "READY=1"; NULL for none) and, if status is given, STATUS=status with any
 * newline in it blanked (it would start another field). */
static void notify(const char *field, const char *status)
{
    char msg[512];
    int n;

    if (!getenv("NOTIFY_SOCKET"))
        return;
    n = snprintf(msg, sizeof(msg), "%s%s%s", field ? field : "", field && status ? "\n" : "",
                 status ? "STATUS=" : "");
    if (n < 0 || (size_t)n >= sizeof(msg))
        return;
    if (status) {
        size_t at = (size_t)n;
        snprintf(msg + at, sizeof(msg) - at, "%s", status);
        for (char *c = msg + at; *c; c++)
            if (*c == '\n')
                *c = ' ';
    }
    (void)sd_notify(0, msg);
}

void service_ready(const char *status)
{
    notify("READY=1", status);
}

void service_ready_main(const char *status)
{
    char field[64];

    snprintf(field, sizeof(field), "MAINPID=%ld\nREADY=1", (long)getpid());
    notify(field, status);
}

void service_status(const char *status)
{
    if (status)
        notify(NULL, status);
}

void service_stopping(void)
{
    notify("STOPPING=1", NULL);
}

uint64_t service_watchdog_interval_ms(void)
{
    uint64_t usec = 0;

    /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process. */
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    usec /= 2;
    return usec < 1000 ? 1 : usec / 1000;
}

void service_watchdog_ping(void)
{
    notify("WATCHDOG=1", NULL);
}
