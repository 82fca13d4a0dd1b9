#include "app/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

/* sd_notify returns 0 without NOTIFY_SOCKET and a negative errno when the message cannot be
 * sent; neither is worth failing over (the manager then times the service out), and nothing
 * here must ever log a secret, so failures are ignored. unset_environment is 0 throughout:
 * the variables stay for later calls. */

static void notify_status(const char *prefix, const char *status)
{
    char msg[512];

    if (!getenv("NOTIFY_SOCKET"))
        return;
    if (status)
        snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, status);
    else
        snprintf(msg, sizeof(msg), "%s", prefix);
    (void)sd_notify(0, msg);
}

void service_ready(const char *status)
{
    notify_status("READY=1\n", status);
}

void service_status(const char *status)
{
    if (status)
        notify_status("", status);
}

void service_stopping(void)
{
    notify_status("STOPPING=1", NULL);
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
    notify_status("WATCHDOG=1", NULL);
}
