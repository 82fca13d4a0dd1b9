/* Standard reason phrases for STUN/TURN error codes. */
#include "stun/stun.h"

const char *stun_reason(int code)
{
    switch (code) {
    /* RFC 8489 14.8 */
    case 300:
        return "Try Alternate";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthenticated";
    case 420:
        return "Unknown Attribute";
    case 438:
        return "Stale Nonce";
    case 500:
        return "Server Error";
    /* RFC 8656 19 */
    case 403:
        return "Forbidden";
    case 437:
        return "Allocation Mismatch";
    case 440:
        return "Address Family not Supported";
    case 441:
        return "Wrong Credentials";
    case 442:
        return "Unsupported Transport Protocol";
    case 443:
        return "Peer Address Family Mismatch";
    case 486:
        return "Allocation Quota Reached";
    case 508:
        return "Insufficient Capacity";
    /* RFC 6062 6.3 (TCP relaying), registered in the same STUN error code registry */
    case 446:
        return "Connection Already Exists";
    case 447:
        return "Connection Timeout or Failure";
    default:
        return "";
    }
}
