#ifndef XTURN_COMMON_CONTAINER_OF_H
#define XTURN_COMMON_CONTAINER_OF_H

#include <stddef.h>

/* The struct that embeds member, from a pointer to that member. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
