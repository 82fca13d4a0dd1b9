/* RFC 5769 test vectors, kept in the RFC's own hex layout, and a hex decoder for them. */
#ifndef XTURN_TESTS_STUN_TEST_VECTORS_H
#define XTURN_TESTS_STUN_TEST_VECTORS_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 5769 2.1: Sample Request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FINGERPRINT). */
static const char rfc5769_request[] = "00 01 00 58" /* Request type and message length */
                                      "21 12 a4 42" /* Magic cookie */
                                      "b7 e7 a7 01"
                                      "bc 34 d6 86"
                                      "fa 87 df ae" /* Transaction ID */
                                      "80 22 00 10" /* SOFTWARE attribute header */
                                      "53 54 55 4e"
                                      "20 74 65 73"
                                      "74 20 63 6c"
                                      "69 65 6e 74" /* User-agent name */
                                      "00 24 00 04" /* PRIORITY attribute header */
                                      "6e 00 01 ff" /* ICE priority value */
                                      "80 29 00 08" /* ICE-CONTROLLED attribute header */
                                      "93 2f f9 b1"
                                      "51 26 3b 36" /* Pseudo-random tie breaker */
                                      "00 06 00 09" /* USERNAME attribute header */
                                      "65 76 74 6a"
                                      "3a 68 36 76"
                                      "59 20 20 20" /* Username (9 bytes) and padding */
                                      "00 08 00 14" /* MESSAGE-INTEGRITY attribute header */
                                      "9a ea a7 0c"
                                      "bf d8 cb 56"
                                      "78 1e f2 b5"
                                      "b2 d3 f2 49"
                                      "c1 b5 71 a2" /* HMAC-SHA1 fingerprint */
                                      "80 28 00 04" /* FINGERPRINT attribute header */
                                      "e5 7a 3b cf" /* CRC32 fingerprint */;

/* RFC 5769 2.2: Sample IPv4 Response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const char rfc5769_response_v4[] = "01 01 00 3c" /* Response type and message length */
                                          "21 12 a4 42" /* Magic cookie */
                                          "b7 e7 a7 01"
                                          "bc 34 d6 86"
                                          "fa 87 df ae" /* Transaction ID */
                                          "80 22 00 0b" /* SOFTWARE attribute header */
                                          "74 65 73 74"
                                          "20 76 65 63"
                                          "74 6f 72 20" /* UTF-8 server name */
                                          "00 20 00 08" /* XOR-MAPPED-ADDRESS attribute header */
                                          "00 01 a1 47" /* Address family (IPv4) and port */
                                          "e1 12 a6 43" /* Xor'd mapped IPv4 address */
                                          "00 08 00 14" /* MESSAGE-INTEGRITY attribute header */
                                          "2b 91 f5 99"
                                          "fd 9e 90 c3"
                                          "8c 74 89 f9"
                                          "2a f9 ba 53"
                                          "f0 6b e7 d7" /* HMAC-SHA1 fingerprint */
                                          "80 28 00 04" /* FINGERPRINT attribute header */
                                          "c0 7d 4c 96" /* CRC32 fingerprint */;

/* RFC 5769 2.3: Sample IPv6 Response, XOR-MAPPED-ADDRESS
 * [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const char rfc5769_response_v6[] = "01 01 00 48" /* Response type and message length */
                                          "21 12 a4 42" /* Magic cookie */
                                          "b7 e7 a7 01"
                                          "bc 34 d6 86"
                                          "fa 87 df ae" /* Transaction ID */
                                          "80 22 00 0b" /* SOFTWARE attribute header */
                                          "74 65 73 74"
                                          "20 76 65 63"
                                          "74 6f 72 20" /* UTF-8 server name */
                                          "00 20 00 14" /* XOR-MAPPED-ADDRESS attribute header */
                                          "00 02 a1 47" /* Address family (IPv6) and port */
                                          "01 13 a9 fa"
                                          "a5 d3 f1 79"
                                          "bc 25 f4 b5"
                                          "be d2 b9 d9" /* Xor'd mapped IPv6 address */
                                          "00 08 00 14" /* MESSAGE-INTEGRITY attribute header */
                                          "a3 82 95 4e"
                                          "4b e6 7b f1"
                                          "17 84 c9 7c"
                                          "82 92 c2 75"
                                          "bf e3 ed 41" /* HMAC-SHA1 fingerprint */
                                          "80 28 00 04" /* FINGERPRINT attribute header */
                                          "c8 fb 0b 4c" /* CRC32 fingerprint */;

/* RFC 5769 2.4: Sample Request with Long-Term Authentication. */
static const char rfc5769_request_long_term[] = "00 01 00 60" /* Request type and length */
                                                "21 12 a4 42" /* Magic cookie */
                                                "78 ad 34 33"
                                                "c6 ad 72 c0"
                                                "29 da 41 2e" /* Transaction ID */
                                                "00 06 00 12" /* USERNAME attribute header */
                                                "e3 83 9e e3"
                                                "83 88 e3 83"
                                                "aa e3 83 83"
                                                "e3 82 af e3"
                                                "82 b9 00 00" /* Username (18 bytes), padding */
                                                "00 15 00 1c" /* NONCE attribute header */
                                                "66 2f 2f 34"
                                                "39 39 6b 39"
                                                "35 34 64 36"
                                                "4f 4c 33 34"
                                                "6f 4c 39 46"
                                                "53 54 76 79"
                                                "36 34 73 41" /* Nonce value */
                                                "00 14 00 0b" /* REALM attribute header */
                                                "65 78 61 6d"
                                                "70 6c 65 2e"
                                                "6f 72 67 00" /* Realm (11 bytes), padding */
                                                "00 08 00 14" /* MESSAGE-INTEGRITY header */
                                                "f6 70 24 65"
                                                "6d d6 4a 3e"
                                                "02 b8 e0 71"
                                                "2e 85 c9 a2"
                                                "8c a8 96 66" /* HMAC-SHA1 fingerprint */;

#define RFC5769_PASSWORD "VOkJxbRl1RmTxUk/WvJxBt"
/* "マトリックス" in UTF-8, spelled as bytes so the source encoding cannot matter. */
#define RFC5769_LT_USER  "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9"
#define RFC5769_LT_REALM "example.org"
#define RFC5769_LT_PASS  "TheMatrIX"
#define RFC5769_LT_NONCE "f//499k954d6OL34oL9FSTvy64sA"

/* Decodes whitespace-separated hex; returns the byte count. Aborts on malformed input, which can
 * only be a typo in this file. */
static inline size_t hex_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    memset(out, 0, cap); /* also keeps gcc's -Wmaybe-uninitialized quiet under sanitizers */
    while (*s) {
        if (isspace((unsigned char)*s)) {
            s++;
            continue;
        }
        char pair[3] = {s[0], s[1], 0};
        char *end;
        unsigned long v = strtoul(pair, &end, 16);
        if (end != pair + 2 || n == cap)
            abort();
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

#endif
