// test_hub_stun.c — the hub's STUN server (services/hub/hub_stun.c): what it answers, in which form, what it
// leaves unanswered, where it binds, and one round trip over a real socket on loopback.
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bytes.h"
#include "hub_stun.h"
#include "stun.h"

static const struct sockaddr_in FROM = {.sin_family = AF_INET, .sin_port = 0x3412, .sin_addr.s_addr = 0x020a12c6};

static size_t request(bool fingerprint, uint8_t *buf)
{
    stun_request_t req = {.fingerprint = fingerprint};
    stun_new_txid(req.txid);
    return stun_build_binding_request(&req, buf, STUN_MAX_MESSAGE);
}

static void decode_answer(const uint8_t *out, size_t n, stun_message_t *ans)
{
    char err[160];
    assert_true(n > 0);
    assert_int_equal(stun_decode(out, n, ans, err, sizeof err), 0);
    assert_int_equal(ans->type, STUN_BINDING_SUCCESS);
}

static void test_rfc5389_request(void **state)
{
    (void)state;
    uint8_t req[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
    char why[160] = "";
    stun_addr_t want;
    stun_addr_from_sockaddr(&want, &FROM);
    for (int fp = 0; fp <= 1; fp++) {
        size_t len = request(fp, req);
        size_t n = hub_stun_answer(req, len, &FROM, out, sizeof out, why, sizeof why);
        stun_message_t ans;
        decode_answer(out, n, &ans);
        assert_true(ans.magic_cookie);
        assert_memory_equal(ans.txid, req + 8, STUN_TXID_LEN);
        assert_true(stun_addr_equal(&ans.xor_mapped, &want));
        assert_true(stun_addr_equal(&ans.mapped, &want));
        assert_int_equal(ans.has_fingerprint, fp);   // FINGERPRINT only when the request had one
        assert_int_equal(ans.software[0], '\0');
        assert_true(n * 2 <= len * 5);
    }
}

// libnice in RFC 5245 mode asks without the magic cookie: the answer echoes the 16-byte id, MAPPED-ADDRESS only
static void test_rfc3489_request(void **state)
{
    (void)state;
    uint8_t req[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
    size_t len = request(false, req);
    be_put32(req + 4, 0x01020304);
    char why[160] = "";
    size_t n = hub_stun_answer(req, len, &FROM, out, sizeof out, why, sizeof why);
    stun_message_t ans;
    decode_answer(out, n, &ans);
    assert_false(ans.magic_cookie);
    assert_int_equal(ans.cookie_word, 0x01020304);
    assert_memory_equal(ans.txid, req + 8, STUN_TXID_LEN);
    assert_int_equal(ans.xor_mapped.family, 0);
    stun_addr_t want;
    stun_addr_from_sockaddr(&want, &FROM);
    assert_true(stun_addr_equal(&ans.mapped, &want));
}

static void test_no_answer(void **state)
{
    (void)state;
    uint8_t req[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
    char why[160];
    // a Binding response (someone reflecting answers at us) is not answered
    uint8_t txid[STUN_TXID_LEN] = {1};
    stun_addr_t mapped;
    stun_addr_from_sockaddr(&mapped, &FROM);
    size_t len = stun_build_binding_response(txid, &mapped, NULL, NULL, req, sizeof req);
    why[0] = '\0';
    assert_int_equal(hub_stun_answer(req, len, &FROM, out, sizeof out, why, sizeof why), 0);
    assert_non_null(strstr(why, "not a Binding request"));
    // an indication
    len = request(false, req);
    be_put16(req, STUN_BINDING_INDICATION);
    assert_int_equal(hub_stun_answer(req, len, &FROM, out, sizeof out, why, sizeof why), 0);
    // garbage, truncation, a bad FINGERPRINT
    const uint8_t junk[] = "GET / HTTP/1.1\r\n\r\n";
    why[0] = '\0';
    assert_int_equal(hub_stun_answer(junk, sizeof junk - 1, &FROM, out, sizeof out, why, sizeof why), 0);
    assert_true(why[0] != '\0');
    len = request(true, req);
    assert_int_equal(hub_stun_answer(req, len - 4, &FROM, out, sizeof out, why, sizeof why), 0);
    req[len - 1] ^= 1;
    why[0] = '\0';
    assert_int_equal(hub_stun_answer(req, len, &FROM, out, sizeof out, why, sizeof why), 0);
    assert_non_null(strstr(why, "FINGERPRINT"));
    // a comprehension-required attribute it does not know
    len = request(false, req);
    uint8_t attr[8] = {0x00, 0x2f, 0x00, 0x04, 1, 2, 3, 4};
    memcpy(req + len, attr, sizeof attr);
    be_put16(req + 2, (uint16_t)(len + sizeof attr - STUN_HEADER_LEN));
    why[0] = '\0';
    assert_int_equal(hub_stun_answer(req, len + sizeof attr, &FROM, out, sizeof out, why, sizeof why), 0);
    assert_non_null(strstr(why, "comprehension-required"));
    // an answer that does not fit
    len = request(true, req);
    assert_int_equal(hub_stun_answer(req, len, &FROM, out, 30, why, sizeof why), 0);
}

static void test_bind_address(void **state)
{
    (void)state;
    char ip[INET_ADDRSTRLEN];
    struct in_addr a = hub_stun_bind_address("tcp://198.18.2.2:7400");
    assert_string_equal(inet_ntop(AF_INET, &a, ip, sizeof ip), "198.18.2.2");
    const char *any[] = {"tcp://*:7400", "tcp://0.0.0.0:7400", "tcp://eth0:7400", "tcp://hub.example:7400",
                         "tcp://[::1]:7400", "tcp://", ""};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        a = hub_stun_bind_address(any[i]);
        assert_int_equal(a.s_addr, htonl(INADDR_ANY));
    }
}

// A free UDP port on 127.0.0.1.
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void test_socket_round_trip(void **state)
{
    (void)state;
    service_t stats = {0};
    assert_null(hub_stun_new("tcp://127.0.0.1:7400", 0, &stats));   // hub.stun_port 0: no server
    int port = free_port();
    hub_stun_t *stun = hub_stun_new("tcp://127.0.0.1:7400", port, &stats);
    assert_non_null(stun);
    assert_int_equal(hub_stun_port(stun), port);
    assert_null(hub_stun_new("tcp://127.0.0.1:7400", port, &stats));   // taken: NULL, logged, no crash

    int client = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t me_len = sizeof me;
    assert_int_equal(bind(client, (struct sockaddr *)&me, sizeof me), 0);
    assert_int_equal(getsockname(client, (struct sockaddr *)&me, &me_len), 0);
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    uint8_t req[STUN_MAX_MESSAGE], out[STUN_MAX_MESSAGE];
    size_t len = request(true, req);
    assert_int_equal(sendto(client, "junk", 4, 0, (struct sockaddr *)&server, sizeof server), 4);
    assert_int_equal(sendto(client, req, len, 0, (struct sockaddr *)&server, sizeof server), (ssize_t)len);
    struct pollfd p = {.fd = hub_stun_fd(stun), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
    usleep(20000);   // both datagrams are in
    hub_stun_on_readable(stun);
    p.fd = client;
    assert_int_equal(poll(&p, 1, 2000), 1);
    ssize_t n = recv(client, out, sizeof out, 0);
    stun_message_t ans;
    decode_answer(out, (size_t)n, &ans);
    stun_addr_t want;
    stun_addr_from_sockaddr(&want, &me);
    assert_true(stun_addr_equal(&ans.xor_mapped, &want));
    assert_int_equal(*service_counter(&stats, "stun_answered"), 1);
    assert_int_equal(*service_counter(&stats, "stun_refused"), 1);
    close(client);
    hub_stun_destroy(&stun);
    assert_null(stun);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5389_request),  cmocka_unit_test(test_rfc3489_request),
        cmocka_unit_test(test_no_answer),        cmocka_unit_test(test_bind_address),
        cmocka_unit_test(test_socket_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
