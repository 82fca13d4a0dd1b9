/* Command line and XTURN_* environment parsing: defaults, every flag, environment variables,
 * precedence, and one clear error per bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config.h"

#define N(a)       (sizeof(a) / sizeof((a)[0]))
#define MAX_ARGS   96
#define PARSE(...) parse_args(&cfg, err, (const char *const[]){"xturn", __VA_ARGS__, NULL})

extern char **environ;

static struct xturn_config cfg;
static char err[256];

/* Every test starts with no XTURN_* variable, whatever the environment running the tests has. */
static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; environ[i];) {
        char name[128];
        const char *eq = strchr(environ[i], '=');
        size_t n = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        if (strncmp(environ[i], "XTURN_", 6) == 0 && n < sizeof(name)) {
            memcpy(name, environ[i], n);
            name[n] = '\0';
            unsetenv(name); /* environ shifts down: look at index i again */
        } else {
            i++;
        }
    }
    memset(&cfg, 0, sizeof(cfg));
    err[0] = '\0';
    return 0;
}

static int free_cfg(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

static int parse_args(struct xturn_config *c, char *e, const char *const *args)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    while (args[argc]) {
        assert_true(argc < MAX_ARGS - 1);
        argv[argc] = (char *)args[argc]; /* getopt does not write the strings */
        argc++;
    }
    argv[argc] = NULL;
    return config_parse(argc, argv, c, e, sizeof(err));
}

static const char *ip(const struct xt_addr *a)
{
    static char buf[4][XT_ADDR_STRLEN];
    static int next;
    return xt_addr_str(a, buf[next++ % 4]);
}

static char *write_temp(const char *content)
{
    static char path[64];
    strcpy(path, "/tmp/xturn-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    return path;
}

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--user", "alice:pw"), 0);
    assert_string_equal(err, "");
    assert_int_equal(cfg.nlisten, 1);
    assert_string_equal(ip(&cfg.listen[0]), "192.0.2.1:3478");
    assert_string_equal(cfg.turn.realm, "xturn");
    assert_int_equal(cfg.turn.nsecrets, 0);
    assert_int_equal(cfg.turn.nusers, 1);
    assert_string_equal(cfg.turn.users[0].name, "alice");
    assert_string_equal(cfg.turn.users[0].password, "pw");
    assert_int_equal(cfg.turn.relay_port_lo, 49152);
    assert_int_equal(cfg.turn.relay_port_hi, 65535);
    assert_string_equal(ip(&cfg.turn.relay_v4), "192.0.2.1:0");
    assert_int_equal(cfg.turn.relay_v6.family, 0);
    assert_int_equal(cfg.turn.public_v4.family, 0);
    assert_int_equal(cfg.turn.public_v6.family, 0);
    assert_int_equal(cfg.turn.default_lifetime_s, 600);
    assert_int_equal(cfg.turn.max_lifetime_s, 3600);
    assert_int_equal(cfg.turn.permission_lifetime_s, 300);
    assert_int_equal(cfg.turn.channel_lifetime_s, 600);
    assert_int_equal(cfg.turn.nonce_lifetime_s, 600);
    assert_int_equal(cfg.turn.unauth_rate, 20);
    assert_int_equal(cfg.turn.unauth_burst, 100);
    assert_false(cfg.turn.strict_channel_range);
    assert_int_equal(cfg.turn.max_allocations, 0);
    assert_int_equal(cfg.turn.user_quota, 0);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(cfg.log_format, LOG_JSON);
    assert_null(cfg.auth_secret_file);
    assert_int_equal(cfg.turn.policy.nallow, 0);
    assert_int_equal(cfg.turn.policy.ndeny, 0);
    assert_int_equal(cfg.turn.policy.nself, 2); /* listen + relay */
    assert_int_equal(cfg.turn.max_permissions, 1000);
    assert_int_equal(cfg.turn.max_channels, 1000);
    assert_int_equal(cfg.turn.max_tcp_peer_conns, 64);
    assert_false(cfg.no_tcp);
    assert_int_equal(cfg.ntls_listen, 0);
    assert_int_equal(cfg.max_stream_conns, 16384);
    assert_int_equal(cfg.max_stream_conns_per_ip, 512);
    assert_int_equal(cfg.stream_first_message_s, 10);
    assert_int_equal(cfg.stream_idle_s, 60);
}

static void test_every_flag(void **state)
{
    char *file = write_temp("# rotation\n\n  filesecret1  \r\n#commented-out\nfilesecret2\n");
    (void)state;
    assert_int_equal(
        PARSE("--listen", "192.0.2.1", "--listen=[2001:db8::1]:5000", "--listen",
              "198.51.100.1:3479", "--realm", "example.org", "--auth-secret", "s1",
              "--auth-secret=s2", "--auth-secret-file", file, "--user", "alice:p:w", "--user",
              "bob:pw2", "--relay-ports", "50000-50100", "--relay-ipv4", "192.0.2.2",
              "--relay-ipv6", "2001:db8::2", "--public-ipv4", "203.0.113.5", "--public-ipv6",
              "2001:db8:ffff::5", "--allow-peer", "10.0.0.0/8", "--allow-peer", "fd00::/8",
              "--deny-peer", "198.18.0.0/15", "--log-format", "text", "--log-level", "debug",
              "--strict-channel-range", "--max-allocations", "1000", "--user-quota", "10",
              "--max-lifetime", "300", "--max-permissions", "50", "--max-channels", "60",
              "--max-tcp-peer-connections", "5", "--no-tcp", "--max-tcp-connections", "100",
              "--max-tcp-per-ip", "7", "--tcp-first-message-timeout", "3", "--tcp-idle-timeout",
              "30", "--tls-listen", "192.0.2.1", "--tls-listen", "[2001:db8::1]:443", "--tls-cert",
              "/c.pem", "--tls-key", "/k.pem", "--unauth-rate", "50", "--unauth-burst", "7"),
        0);
    unlink(file);
    assert_int_equal(cfg.nlisten, 3);
    assert_string_equal(ip(&cfg.listen[0]), "192.0.2.1:3478");
    assert_string_equal(ip(&cfg.listen[1]), "[2001:db8::1]:5000");
    assert_string_equal(ip(&cfg.listen[2]), "198.51.100.1:3479");
    assert_string_equal(cfg.turn.realm, "example.org");
    assert_int_equal(cfg.turn.nsecrets, 4); /* flags first, then the file */
    assert_string_equal(cfg.turn.secrets[0], "s1");
    assert_string_equal(cfg.turn.secrets[1], "s2");
    assert_string_equal(cfg.turn.secrets[2], "filesecret1");
    assert_string_equal(cfg.turn.secrets[3], "filesecret2");
    assert_string_equal(cfg.auth_secret_file, file);
    assert_int_equal(cfg.turn.nusers, 2);
    assert_string_equal(cfg.turn.users[0].name, "alice");
    assert_string_equal(cfg.turn.users[0].password, "p:w");
    assert_string_equal(cfg.turn.users[1].name, "bob");
    assert_string_equal(cfg.turn.users[1].password, "pw2");
    assert_int_equal(cfg.turn.relay_port_lo, 50000);
    assert_int_equal(cfg.turn.relay_port_hi, 50100);
    assert_string_equal(ip(&cfg.turn.relay_v4), "192.0.2.2:0");
    assert_string_equal(ip(&cfg.turn.relay_v6), "[2001:db8::2]:0");
    assert_string_equal(ip(&cfg.turn.public_v4), "203.0.113.5:0");
    assert_string_equal(ip(&cfg.turn.public_v6), "[2001:db8:ffff::5]:0");
    assert_int_equal(cfg.turn.policy.nallow, 2);
    assert_int_equal(cfg.turn.policy.allow[0].prefix, 8);
    assert_int_equal(cfg.turn.policy.allow[1].net.family, AF_INET6);
    assert_int_equal(cfg.turn.policy.ndeny, 1);
    assert_int_equal(cfg.turn.policy.deny[0].prefix, 15);
    assert_int_equal(cfg.log_format, LOG_TEXT);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_true(cfg.turn.strict_channel_range);
    assert_int_equal(cfg.turn.max_allocations, 1000);
    assert_int_equal(cfg.turn.user_quota, 10);
    assert_int_equal(cfg.turn.max_lifetime_s, 300);
    assert_int_equal(cfg.turn.default_lifetime_s, 300); /* never above the maximum */
    assert_int_equal(cfg.turn.policy.nself, 9);         /* 3 listen, 2 TLS, 2 relay, 2 public */
    assert_int_equal(cfg.turn.max_permissions, 50);
    assert_int_equal(cfg.turn.max_channels, 60);
    assert_int_equal(cfg.turn.max_tcp_peer_conns, 5);
    assert_int_equal(cfg.turn.unauth_rate, 50);
    assert_int_equal(cfg.turn.unauth_burst, 7);
    assert_true(cfg.no_tcp);
    assert_int_equal(cfg.max_stream_conns, 100);
    assert_int_equal(cfg.max_stream_conns_per_ip, 7);
    assert_int_equal(cfg.stream_first_message_s, 3);
    assert_int_equal(cfg.stream_idle_s, 30);
    assert_int_equal(cfg.ntls_listen, 2);
    assert_int_equal(cfg.tls_listen[0].port, 5349);
    assert_int_equal(cfg.tls_listen[1].port, 443);
    assert_string_equal(cfg.tls_cert, "/c.pem");
    assert_string_equal(cfg.tls_key, "/k.pem");
    for (size_t i = 0; i < cfg.turn.policy.nself; i++) {
        struct xt_addr peer = cfg.turn.policy.self[i];
        peer.port = 22;
        assert_int_equal(peer_policy_check(&cfg.turn.policy, NULL, &peer), PEER_SELF);
    }
}

static void test_relay_defaults_per_family(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--listen", "[2001:db8::1]:9", "--listen", "192.0.2.7:8", "--listen",
                           "2001:db8::3", "--auth-secret", "s"),
                     0);
    assert_string_equal(ip(&cfg.turn.relay_v4), "192.0.2.7:0");
    assert_string_equal(ip(&cfg.turn.relay_v6), "[2001:db8::1]:0");
    config_free(&cfg);

    assert_int_equal(PARSE("--listen", "[2001:db8::1]:9", "--auth-secret", "s"), 0);
    assert_int_equal(cfg.turn.relay_v4.family, 0);
    assert_string_equal(ip(&cfg.turn.relay_v6), "[2001:db8::1]:0");
    config_free(&cfg);

    /* An explicit relay address of a family without a listen address relays that family. */
    assert_int_equal(PARSE("--listen", "[2001:db8::1]:9", "--auth-secret", "s", "--relay-ipv4",
                           "192.0.2.9", "--public-ipv4", "203.0.113.9"),
                     0);
    assert_string_equal(ip(&cfg.turn.relay_v4), "192.0.2.9:0");
    assert_string_equal(ip(&cfg.turn.public_v4), "203.0.113.9:0");
}

/* stun:HOST[:PORT] names the STUN server to ask at start instead of an address; the last of an
 * address and a server given counts. */
static void test_public_stun(void **state)
{
    static const struct {
        const char *val, *host;
        unsigned port;
    } cases[] = {
        {"stun:stun.example", "stun.example", 3478},
        {"stun:stun.example:19302", "stun.example", 19302},
        {"stun:198.18.2.2:3479", "198.18.2.2", 3479},
        {"stun:2001:db8::9", "2001:db8::9", 3478},
        {"stun:[2001:db8::9]", "2001:db8::9", 3478},
        {"stun:[2001:db8::9]:1", "2001:db8::9", 1},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        int fam = strchr(cases[i].host, ':') ? 1 : 0;
        assert_int_equal(PARSE("--listen", "192.0.2.1", "--listen", "[2001:db8::1]",
                               "--auth-secret", "s", fam ? "--public-ipv6" : "--public-ipv4",
                               cases[i].val),
                         0);
        assert_string_equal(cfg.public_stun[fam].host, cases[i].host);
        assert_int_equal(cfg.public_stun[fam].port, cases[i].port);
        assert_null(cfg.public_stun[!fam].host);
        assert_int_equal(cfg.turn.public_v4.family, 0);
        assert_int_equal(cfg.turn.public_v6.family, 0);
        assert_int_equal(cfg.turn.policy.nself, 4); /* 2 listen, 2 relay */
        config_free(&cfg);
    }
    /* the last one given counts */
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s", "--public-ipv4", "stun:a",
                           "--public-ipv4", "203.0.113.5"),
                     0);
    assert_null(cfg.public_stun[0].host);
    assert_string_equal(ip(&cfg.turn.public_v4), "203.0.113.5:0");
    config_free(&cfg);
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s", "--public-ipv4",
                           "203.0.113.5", "--public-ipv4", "stun:b:7"),
                     0);
    assert_string_equal(cfg.public_stun[0].host, "b");
    assert_int_equal(cfg.turn.public_v4.family, 0);
    config_free(&cfg);
    /* from the environment too; the address found later is advertised and is one of the self
     * addresses (config_set_public) */
    setenv("XTURN_PUBLIC_IPV4", "stun:stun.example:3479", 1);
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s"), 0);
    assert_string_equal(cfg.public_stun[0].host, "stun.example");
    assert_int_equal(cfg.public_stun[0].port, 3479);
    struct xt_addr found;
    assert_int_equal(xt_addr_parse("203.0.113.7:5555", 0, &found), 0);
    config_set_public(&cfg, &found);
    assert_string_equal(ip(&cfg.turn.public_v4), "203.0.113.7:0");
    assert_int_equal(cfg.turn.policy.nself, 3); /* listen, relay, public */
    assert_true(xt_addr_equal(&cfg.turn.policy.self[2], &cfg.turn.public_v4));
}

static void test_env_vars(void **state)
{
    char *file = write_temp("envfilesecret\n");
    (void)state;
    setenv("XTURN_LISTEN", "192.0.2.1,[2001:db8::1]:5000", 1);
    setenv("XTURN_REALM", "env.example", 1);
    setenv("XTURN_AUTH_SECRET", "e1,e2", 1);
    setenv("XTURN_AUTH_SECRET_FILE", file, 1);
    setenv("XTURN_USER", "carol:pw,dave:pw2", 1);
    setenv("XTURN_RELAY_PORTS", "40000-40010", 1);
    setenv("XTURN_RELAY_IPV4", "192.0.2.2", 1);
    setenv("XTURN_RELAY_IPV6", "2001:db8::2", 1);
    setenv("XTURN_PUBLIC_IPV4", "203.0.113.5", 1);
    setenv("XTURN_PUBLIC_IPV6", "2001:db8:ffff::5", 1);
    setenv("XTURN_ALLOW_PEER", "10.0.0.0/8,192.168.0.0/16", 1);
    setenv("XTURN_DENY_PEER", "198.18.0.0/15", 1);
    setenv("XTURN_LOG_FORMAT", "text", 1);
    setenv("XTURN_LOG_LEVEL", "warn", 1);
    setenv("XTURN_STRICT_CHANNEL_RANGE", "true", 1);
    setenv("XTURN_MAX_ALLOCATIONS", "7", 1);
    setenv("XTURN_USER_QUOTA", "3", 1);
    setenv("XTURN_MAX_LIFETIME", "1200", 1);
    setenv("XTURN_UNAUTH_RATE", "0", 1); /* unlimited */
    setenv("XTURN_UNAUTH_BURST", "1000000", 1);
    assert_int_equal(parse_args(&cfg, err, (const char *const[]){"xturn", NULL}), 0);
    unlink(file);
    assert_int_equal(cfg.nlisten, 2);
    assert_string_equal(ip(&cfg.listen[1]), "[2001:db8::1]:5000");
    assert_string_equal(cfg.turn.realm, "env.example");
    assert_int_equal(cfg.turn.nsecrets, 3);
    assert_string_equal(cfg.turn.secrets[1], "e2");
    assert_string_equal(cfg.turn.secrets[2], "envfilesecret");
    assert_int_equal(cfg.turn.nusers, 2);
    assert_string_equal(cfg.turn.users[1].name, "dave");
    assert_int_equal(cfg.turn.relay_port_lo, 40000);
    assert_int_equal(cfg.turn.relay_port_hi, 40010);
    assert_string_equal(ip(&cfg.turn.relay_v4), "192.0.2.2:0");
    assert_string_equal(ip(&cfg.turn.relay_v6), "[2001:db8::2]:0");
    assert_string_equal(ip(&cfg.turn.public_v4), "203.0.113.5:0");
    assert_string_equal(ip(&cfg.turn.public_v6), "[2001:db8:ffff::5]:0");
    assert_int_equal(cfg.turn.policy.nallow, 2);
    assert_int_equal(cfg.turn.policy.ndeny, 1);
    assert_int_equal(cfg.log_format, LOG_TEXT);
    assert_int_equal(cfg.log_level, LOG_WARN);
    assert_true(cfg.turn.strict_channel_range);
    assert_int_equal(cfg.turn.max_allocations, 7);
    assert_int_equal(cfg.turn.user_quota, 3);
    assert_int_equal(cfg.turn.max_lifetime_s, 1200);
    assert_int_equal(cfg.turn.default_lifetime_s, 600);
    assert_int_equal(cfg.turn.unauth_rate, 0);
    assert_int_equal(cfg.turn.unauth_burst, 1000000);
}

static void test_flag_overrides_env(void **state)
{
    (void)state;
    setenv("XTURN_LISTEN", "192.0.2.1,192.0.2.2", 1);
    setenv("XTURN_REALM", "env.example", 1);
    setenv("XTURN_AUTH_SECRET", "envsecret", 1);
    setenv("XTURN_MAX_ALLOCATIONS", "5", 1);
    assert_int_equal(PARSE("--listen", "198.51.100.1", "--realm", "flag.example"), 0);
    assert_int_equal(cfg.nlisten, 1); /* the flag replaces the whole env list */
    assert_string_equal(ip(&cfg.listen[0]), "198.51.100.1:3478");
    assert_string_equal(cfg.turn.realm, "flag.example");
    assert_int_equal(cfg.turn.nsecrets, 1); /* other flags still come from the environment */
    assert_string_equal(cfg.turn.secrets[0], "envsecret");
    assert_int_equal(cfg.turn.max_allocations, 5);
}

static void test_empty_env_is_unset(void **state)
{
    (void)state;
    setenv("XTURN_REALM", "", 1);
    setenv("XTURN_DENY_PEER", "", 1);
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s"), 0);
    assert_string_equal(cfg.turn.realm, "xturn");
    assert_int_equal(cfg.turn.policy.ndeny, 0);
}

static void test_env_bool(void **state)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    (void)state;
    for (size_t i = 0; i < N(yes); i++) {
        setenv("XTURN_STRICT_CHANNEL_RANGE", yes[i], 1);
        assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s"), 0);
        assert_true(cfg.turn.strict_channel_range);
        config_free(&cfg);
        setenv("XTURN_STRICT_CHANNEL_RANGE", no[i], 1);
        assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s"), 0);
        assert_false(cfg.turn.strict_channel_range);
        config_free(&cfg);
    }
    setenv("XTURN_STRICT_CHANNEL_RANGE", "maybe", 1);
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "s"), -1);
    assert_non_null(strstr(err, "--strict-channel-range: \"maybe\""));
    assert_non_null(strstr(err, "XTURN_STRICT_CHANNEL_RANGE"));
}

struct bad_case {
    const char *args[10];
    const char *want; /* substring of the error message */
};

#define OK_BASE "--listen", "192.0.2.1", "--auth-secret", "s"

static void test_errors(void **state)
{
    static const struct bad_case cases[] = {
        {{"--user", "a:b"}, "no --listen address"},
        {{"--listen", "192.0.2.1"},
         "no credentials: give --auth-secret, --auth-secret-file or --user"},
        {{"--listen", "bogus", "--user", "a:b"}, "--listen: \"bogus\": expected"},
        {{"--listen", "192.0.2.1:70000", "--user", "a:b"}, "--listen: \"192.0.2.1:70000\""},
        {{"--listen", "0.0.0.0", "--user", "a:b"},
         "--listen: \"0.0.0.0\": needs a specific address, not a wildcard"},
        {{"--listen", "[::]:3478", "--user", "a:b"}, "--listen: \"[::]:3478\": needs a specific"},
        {{OK_BASE, "--realm", ""}, "--realm: \"\": must not be empty"},
        {{OK_BASE, "--auth-secret", ""}, "--auth-secret: empty secret"},
        {{OK_BASE, "--auth-secret-file", "/nonexistent/xturn"},
         "--auth-secret-file: \"/nonexistent/xturn\": No such file or directory"},
        {{OK_BASE, "--user", "nopassword"}, "--user: expected NAME:PASSWORD"},
        {{OK_BASE, "--user", ":secretpw"}, "--user: expected NAME:PASSWORD"},
        {{OK_BASE, "--user", "name:"}, "--user: expected NAME:PASSWORD"},
        {{OK_BASE, "--relay-ports", "70000-1"},
         "--relay-ports: \"70000-1\": expected LO-HI with 1 <= LO <= HI <= 65535"},
        {{OK_BASE, "--relay-ports", "0-10"}, "--relay-ports: \"0-10\""},
        {{OK_BASE, "--relay-ports", "10-5"}, "--relay-ports: \"10-5\""},
        {{OK_BASE, "--relay-ports", "1-2-3"}, "--relay-ports: \"1-2-3\""},
        {{OK_BASE, "--relay-ports", "+1-2"}, "--relay-ports: \"+1-2\""},
        {{OK_BASE, "--relay-ports", " 1-2"}, "--relay-ports: \" 1-2\""},
        {{OK_BASE, "--relay-ports", "1- 2"}, "--relay-ports: \"1- 2\""},
        {{OK_BASE, "--relay-ports", "1-"}, "--relay-ports: \"1-\""},
        {{OK_BASE, "--relay-ports", "5000"}, "--relay-ports: \"5000\""},
        {{OK_BASE, "--relay-ports", "1-99999999999999999999"}, "--relay-ports: \"1-9999"},
        {{OK_BASE, "--relay-ipv4", "2001:db8::1"},
         "--relay-ipv4: \"2001:db8::1\": expected an IPv4 address"},
        {{OK_BASE, "--relay-ipv4", "192.0.2.1:5"}, "--relay-ipv4: \"192.0.2.1:5\""},
        {{OK_BASE, "--relay-ipv4", "0.0.0.0"}, "--relay-ipv4: \"0.0.0.0\": needs a specific"},
        {{OK_BASE, "--relay-ipv6", "192.0.2.1"},
         "--relay-ipv6: \"192.0.2.1\": expected an IPv6 address"},
        {{OK_BASE, "--public-ipv4", "x"}, "--public-ipv4: \"x\": expected an IPv4 address"},
        {{OK_BASE, "--public-ipv6", "192.0.2.1"}, "--public-ipv6: \"192.0.2.1\": expected an IPv6"},
        {{OK_BASE, "--public-ipv6", "2001:db8::5"},
         "--public-ipv6: \"2001:db8::5\": no IPv6 relay"},
        {{OK_BASE, "--public-ipv4", "stun:"}, "--public-ipv4: \"stun:\": stun: needs a host"},
        {{OK_BASE, "--public-ipv4", "stun::3478"}, "--public-ipv4: \"stun::3478\": stun: needs"},
        {{OK_BASE, "--public-ipv4", "stun:h:0"},
         "--public-ipv4: \"stun:h:0\": stun: expected a port from 1 to 65535 after the host"},
        {{OK_BASE, "--public-ipv4", "stun:h:99999"}, "--public-ipv4: \"stun:h:99999\": stun: exp"},
        {{OK_BASE, "--public-ipv4", "stun:h:"}, "--public-ipv4: \"stun:h:\": stun: expected a"},
        {{OK_BASE, "--public-ipv4", "stun:h:1x"}, "--public-ipv4: \"stun:h:1x\": stun: expected"},
        {{OK_BASE, "--public-ipv4", "stun:a b"},
         "--public-ipv4: \"stun:a b\": stun: host contains"},
        {{OK_BASE, "--public-ipv4", "stun:h/x"},
         "--public-ipv4: \"stun:h/x\": stun: host contains"},
        {{OK_BASE, "--public-ipv6", "stun:[2001:db8::1"},
         "--public-ipv6: \"stun:[2001:db8::1\": expected stun:HOST, stun:HOST:PORT or "
         "stun:[IPV6]:PORT"},
        {{OK_BASE, "--public-ipv6", "stun:[2001:db8::1]x"},
         "--public-ipv6: \"stun:[2001:db8::1]x\""},
        {{OK_BASE, "--public-ipv6", "stun:[]:5"}, "--public-ipv6: \"stun:[]:5\": stun: needs a"},
        {{OK_BASE, "--public-ipv6", "STUN:h"}, "--public-ipv6: \"STUN:h\": expected an IPv6"},
        {{OK_BASE, "--public-ipv6", "stun:stun.example"},
         "--public-ipv6: \"stun:stun.example\": no IPv6 relay address (give --relay-ipv6 or an "
         "IPv6 --listen)"},
        {{OK_BASE, "--allow-peer", "10.0.0.0/33"}, "--allow-peer: \"10.0.0.0/33\": expected"},
        {{OK_BASE, "--deny-peer", "junk"}, "--deny-peer: \"junk\": expected"},
        {{OK_BASE, "--log-format", "xml"}, "--log-format: \"xml\": expected json or text"},
        {{OK_BASE, "--log-level", "loud"}, "--log-level: \"loud\": expected error, warn"},
        {{OK_BASE, "--max-allocations", "-1"}, "--max-allocations: \"-1\": expected a count"},
        {{OK_BASE, "--max-allocations", "1x"}, "--max-allocations: \"1x\""},
        {{OK_BASE, "--max-allocations", ""}, "--max-allocations: \"\""},
        {{OK_BASE, "--max-allocations", "4294967296"}, "--max-allocations: \"4294967296\""},
        {{OK_BASE, "--user-quota", " 5"}, "--user-quota: \" 5\": expected a count"},
        {{OK_BASE, "--max-lifetime", "59"},
         "--max-lifetime: \"59\": expected seconds, at least 60"},
        {{OK_BASE, "--max-lifetime", "abc"}, "--max-lifetime: \"abc\""},
        {{OK_BASE, "--max-permissions", "0"}, "--max-permissions: \"0\": expected a count"},
        {{OK_BASE, "--max-channels", "x"}, "--max-channels: \"x\": expected a count"},
        {{OK_BASE, "--max-tcp-connections", "0"}, "--max-tcp-connections: \"0\": expected a count"},
        {{OK_BASE, "--max-tcp-per-ip", "2000000"}, "--max-tcp-per-ip: \"2000000\""},
        {{OK_BASE, "--tcp-first-message-timeout", "0"}, "--tcp-first-message-timeout: \"0\""},
        {{OK_BASE, "--tcp-idle-timeout", "x"}, "--tcp-idle-timeout: \"x\": expected seconds"},
        {{OK_BASE, "--unauth-rate", "-1"}, "--unauth-rate: \"-1\": expected a count up to 1000000"},
        {{OK_BASE, "--unauth-rate", "1000001"}, "--unauth-rate: \"1000001\": expected a count"},
        {{OK_BASE, "--unauth-rate", "20/s"}, "--unauth-rate: \"20/s\": expected a count"},
        {{OK_BASE, "--unauth-burst", "0"},
         "--unauth-burst: \"0\": expected a count from 1 to 1000000"},
        {{OK_BASE, "--unauth-burst", ""}, "--unauth-burst: \"\": expected a count"},
        {{OK_BASE, "--tls-listen", "192.0.2.1:5349"},
         "--tls-listen needs --tls-cert and --tls-key"},
        {{OK_BASE, "--tls-cert", "c.pem", "--tls-key", "k.pem"},
         "--tls-cert and --tls-key need a --tls-listen address"},
        {{OK_BASE, "--tls-listen", "192.0.2.1:3478", "--tls-cert", "c", "--tls-key", "k"},
         "--tls-listen: \"192.0.2.1:3478\": also a --listen address"},
        {{OK_BASE, "--tls-listen", "0.0.0.0", "--tls-cert", "c", "--tls-key", "k"},
         "--tls-listen: \"0.0.0.0\": needs a specific address"},
        {{OK_BASE, "--tls-listen", "192.0.2.1:50000", "--tls-cert", "c", "--tls-key", "k"},
         "--tls-listen: \"192.0.2.1:50000\": port inside --relay-ports"},
        /* a relay socket could take these ports, or a client reach them as relayed addresses */
        {{"--listen", "192.0.2.1:50000", "--user", "a:b"},
         "--listen: \"192.0.2.1:50000\": port inside --relay-ports 49152-65535"},
        {{OK_BASE, "--relay-ports", "3000-4000"},
         "--listen: \"192.0.2.1:3478\": port inside --relay-ports 3000-4000"},
        {{OK_BASE, "--metrics", "127.0.0.1:60000"},
         "--metrics: \"127.0.0.1:60000\": port inside --relay-ports 49152-65535"},
        {{OK_BASE, "--bogus"}, "unknown or ambiguous flag \"--bogus\""},
        {{OK_BASE, "--re", "x"}, "\"--re\""}, /* ambiguous: realm, relay-... */
        {{OK_BASE, "-l"}, "unknown flag \"-l\""},
        {{OK_BASE, "--realm"}, "--realm: missing value"},
        {{OK_BASE, "--strict-channel-range=1"}, "--strict-channel-range takes no value"},
        {{OK_BASE, "extra"}, "unexpected argument \"extra\""},
    };
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        const char *argv[N(cases[i].args) + 2] = {"xturn"};
        for (size_t j = 0; j < N(cases[i].args); j++)
            argv[j + 1] = cases[i].args[j];
        err[0] = '\0';
        int rc = parse_args(&cfg, err, argv);
        if (rc != -1 || !strstr(err, cases[i].want) || strchr(err, '\n'))
            fail_msg("case %zu: rc %d, error \"%s\", want \"%s\"", i, rc, err, cases[i].want);
        /* cfg is left empty on error */
        assert_null(cfg.listen);
        assert_null(cfg.turn.realm);
        assert_null(cfg.turn.secrets);
    }
}

static void test_secrets_not_echoed(void **state)
{
    (void)state;
    assert_int_equal(PARSE(OK_BASE, "--user", ":hunter2"), -1);
    assert_null(strstr(err, "hunter2"));
    setenv("XTURN_AUTH_SECRET", "good,,also-good", 1);
    assert_int_equal(PARSE("--listen", "192.0.2.1"), -1);
    assert_string_equal(err, "--auth-secret: empty secret (from XTURN_AUTH_SECRET)");
}

static void test_env_error_names_flag_and_variable(void **state)
{
    (void)state;
    setenv("XTURN_RELAY_PORTS", "5-1", 1);
    assert_int_equal(PARSE(OK_BASE), -1);
    assert_string_equal(err, "--relay-ports: \"5-1\": expected LO-HI with 1 <= LO <= HI <= 65535 "
                             "(from XTURN_RELAY_PORTS)");
    setenv("XTURN_RELAY_PORTS", "5-6", 1);
    setenv("XTURN_LISTEN", "192.0.2.1,nope", 1);
    assert_int_equal(PARSE("--auth-secret", "s"), -1);
    assert_string_equal(err, "--listen: \"nope\": expected ADDR, ADDR:PORT or [IPV6]:PORT (from "
                             "XTURN_LISTEN)");
}

static void test_secret_file(void **state)
{
    char **secrets = NULL;
    size_t n = 0;
    char *file = write_temp("# only comments\n\n   \n#x\n");
    (void)state;
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret-file", file), -1);
    assert_non_null(strstr(err, "--auth-secret-file: \""));
    assert_non_null(strstr(err, "\": no secret in the file"));
    assert_int_equal(config_read_secret_file(file, &secrets, &n, err, sizeof(err)), -1);
    assert_int_equal(n, 0);
    unlink(file);

    file = write_temp("a\n b \n#c\nd # not a comment\n");
    assert_int_equal(config_read_secret_file(file, &secrets, &n, err, sizeof(err)), 0);
    assert_int_equal(config_read_secret_file(file, &secrets, &n, err, sizeof(err)), 0);
    unlink(file);
    assert_int_equal(n, 6);
    assert_string_equal(secrets[1], "b");
    assert_string_equal(secrets[2], "d # not a comment");
    assert_string_equal(secrets[5], "d # not a comment");
    for (size_t i = 0; i < n; i++)
        free(secrets[i]);
    free(secrets);
}

static char *capture_stdout(int (*fn)(void), int *rc)
{
    FILE *tmp = tmpfile();
    int saved;
    assert_non_null(tmp);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    dup2(fileno(tmp), STDOUT_FILENO);
    *rc = fn();
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    long len = lseek(fileno(tmp), 0, SEEK_END);
    char *out = calloc(1, (size_t)len + 1);
    assert_non_null(out);
    assert_int_equal(pread(fileno(tmp), out, (size_t)len, 0), len);
    fclose(tmp);
    return out;
}

static int run_version(void)
{
    return PARSE("--version");
}

static int run_help(void)
{
    return PARSE("--listen", "192.0.2.1", "--help", "--bogus");
}

static void test_help_and_version(void **state)
{
    int rc;
    (void)state;
    char *out = capture_stdout(run_version, &rc);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "xturn " XTURN_VERSION "\n");
    free(out);
    out = capture_stdout(run_help, &rc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "--listen ADDR[:PORT]"));
    assert_null(cfg.listen); /* nothing left to free */
    free(out);
}

/* One help line per flag, naming its environment variable. */
static void test_usage_lists_every_flag(void **state)
{
    static const char *const flags[][2] = {
        {"--listen ", "XTURN_LISTEN"},
        {"--realm ", "XTURN_REALM"},
        {"--auth-secret ", "XTURN_AUTH_SECRET"},
        {"--auth-secret-file ", "XTURN_AUTH_SECRET_FILE"},
        {"--user ", "XTURN_USER"},
        {"--relay-ports ", "XTURN_RELAY_PORTS"},
        {"--relay-ipv4 ", "XTURN_RELAY_IPV4"},
        {"--relay-ipv6 ", "XTURN_RELAY_IPV6"},
        {"--public-ipv4 ", "XTURN_PUBLIC_IPV4"},
        {"--public-ipv6 ", "XTURN_PUBLIC_IPV6"},
        {"--allow-peer ", "XTURN_ALLOW_PEER"},
        {"--deny-peer ", "XTURN_DENY_PEER"},
        {"--log-format ", "XTURN_LOG_FORMAT"},
        {"--log-level ", "XTURN_LOG_LEVEL"},
        {"--strict-channel-range ", "XTURN_STRICT_CHANNEL_RANGE"},
        {"--max-allocations ", "XTURN_MAX_ALLOCATIONS"},
        {"--user-quota ", "XTURN_USER_QUOTA"},
        {"--max-lifetime ", "XTURN_MAX_LIFETIME"},
        {"--help ", NULL},
        {"--version ", NULL},
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    (void)state;
    assert_non_null(f);
    config_usage(f);
    fclose(f);
    for (size_t i = 0; i < N(flags); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\n  %s", flags[i][0]);
        const char *line = strstr(text, needle);
        if (!line)
            fail_msg("no help line for %s", flags[i][0]);
        const char *eol = strchr(line + 1, '\n');
        const char *env = flags[i][1] ? strstr(line, flags[i][1]) : NULL;
        if (flags[i][1] && (!env || env > eol))
            fail_msg("help line for %s lacks %s", flags[i][0], flags[i][1]);
    }
    free(text);
}

/* n copies of the UTF-8 character ch, in a static buffer. */
static const char *repeat(const char *ch, size_t n)
{
    static char buf[1024];
    size_t len = strlen(ch);
    assert_true(n * len < sizeof(buf));
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * len, ch, len);
    buf[n * len] = '\0';
    return buf;
}

/* RFC 8489 14.9: fewer than 128 characters of UTF-8 text, counted as characters, not bytes. */
static void test_realm(void **state)
{
    static const char *const chars[] = {"a", "\u00e9", "\u20ac", "\U0001F600"}; /* 1-4 bytes */
    static const struct {
        const char *realm, *want;
    } bad[] = {
        {"\xff", "not valid UTF-8"},
        {"ab\xc3", "not valid UTF-8"},           /* truncated */
        {"\xc3(", "not valid UTF-8"},            /* not a continuation byte */
        {"\xc0\xaf", "not valid UTF-8"},         /* overlong '/' */
        {"\xe0\x80\xaf", "not valid UTF-8"},     /* overlong '/' */
        {"\xed\xa0\x80", "not valid UTF-8"},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "not valid UTF-8"}, /* U+110000 */
        {"\x80", "not valid UTF-8"},             /* continuation byte first */
        {"a\nb", "contains a control character"},
        {"a\tb", "contains a control character"},
        {"a\x7f", "contains a control character"},
        {"a\xc2\x85", "contains a control character"}, /* C1 NEL */
        {"a\"b", "contains a double quote"},
    };
    char want[64];
    (void)state;
    for (size_t i = 0; i < N(chars); i++) {
        assert_int_equal(PARSE(OK_BASE, "--realm", repeat(chars[i], 127)), 0);
        assert_string_equal(cfg.turn.realm, repeat(chars[i], 127));
        config_free(&cfg);
        assert_int_equal(PARSE(OK_BASE, "--realm", repeat(chars[i], 128)), -1);
        /* Too long to quote. */
        assert_string_equal(err, "--realm: must be fewer than 128 characters (RFC 8489)");
        assert_null(cfg.turn.realm);
    }
    for (size_t i = 0; i < N(bad); i++) {
        /* The value is not echoed: it could break the line or the terminal. */
        snprintf(want, sizeof(want), "--realm: %s", bad[i].want);
        if (strchr(bad[i].realm, '"'))
            snprintf(want, sizeof(want), "--realm: \"a\"b\": %s", bad[i].want);
        if (PARSE(OK_BASE, "--realm", bad[i].realm) != -1 || strcmp(err, want) != 0)
            fail_msg("realm %zu: error \"%s\", want \"%s\"", i, err, want);
        assert_null(cfg.turn.realm);
    }
    setenv("XTURN_REALM", "x\xff", 1);
    assert_int_equal(PARSE(OK_BASE), -1);
    assert_string_equal(err, "--realm: not valid UTF-8 (from XTURN_REALM)");
}

static void test_repeated_calls(void **state)
{
    (void)state;
    assert_int_equal(PARSE("--bogus"), -1);
    assert_int_equal(PARSE("--listen", "192.0.2.1", "--auth-secret", "a"), 0);
    config_free(&cfg);
    assert_int_equal(PARSE("--listen", "192.0.2.9", "--auth-secret", "b", "--realm", "r2"), 0);
    assert_string_equal(ip(&cfg.listen[0]), "192.0.2.9:3478");
    assert_string_equal(cfg.turn.realm, "r2");
    config_free(&cfg);
    config_free(&cfg); /* safe on a freed (zeroed) config */
}

#define T(f) cmocka_unit_test_setup_teardown(f, clear_env, free_cfg)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_every_flag),
        T(test_relay_defaults_per_family),
        T(test_public_stun),
        T(test_env_vars),
        T(test_flag_overrides_env),
        T(test_empty_env_is_unset),
        T(test_env_bool),
        T(test_errors),
        T(test_secrets_not_echoed),
        T(test_env_error_names_flag_and_variable),
        T(test_secret_file),
        T(test_help_and_version),
        T(test_usage_lists_every_flag),
        T(test_repeated_calls),
        T(test_realm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
