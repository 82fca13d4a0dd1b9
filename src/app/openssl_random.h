/* The daemon's randomness for the TURN core: OpenSSL's CSPRNG. */
#ifndef XTURN_APP_OPENSSL_RANDOM_H
#define XTURN_APP_OPENSSL_RANDOM_H

#include "turn/turn_random.h"

extern const struct turn_random openssl_random;

#endif
