/* xturn's flags (src/app/config_flags.c): the table config.c parses, defaults and documents. */
#ifndef XTURN_APP_CONFIG_FLAGS_H
#define XTURN_APP_CONFIG_FLAGS_H

#include <stddef.h>

#include "app/options.h"

/* At most this many flags (config.c sizes its getopt table with it). */
#define CONFIG_MAX_FLAGS 64

extern const struct opt config_flags[];
extern const size_t config_nflags;

#endif
