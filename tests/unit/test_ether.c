// test_ether.c — device.mode tap's frame handling (services/device/ether.c): which frames carry packets,
// which ARP requests weft-device answers and the exact bytes of its answer, and the header it puts on
// packets from the mesh.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ether.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t kernel_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
static const uint32_t self_ip = IP(10, 100, 0, 1), net = IP(10, 100, 0, 0), mask = 0xffff0000u;

// An ARP frame as the kernel writes it: who-has target tell sender.
static void arp_frame(uint8_t f[42], uint16_t op, uint32_t sender, uint32_t target)
{
    static const uint8_t head[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,
                                   0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04};
    memcpy(f, head, sizeof head);
    f[20] = (uint8_t)(op >> 8);
    f[21] = (uint8_t)op;
    memcpy(f + 22, kernel_mac, 6);
    for (int i = 0; i < 4; i++) {
        f[28 + i] = (uint8_t)(sender >> (24 - 8 * i));
        f[32 + i] = 0;
        f[38 + i] = (uint8_t)(target >> (24 - 8 * i));
    }
    memset(f + 32, 0, 6);
}

static void test_classify(void **state)
{
    (void)state;
    uint8_t f[60] = {0};
    assert_int_equal(ether_classify(f, 13), ETHER_RUNT);
    f[12] = 0x08, f[13] = 0x00;
    assert_int_equal(ether_classify(f, 14), ETHER_IPV4);
    f[13] = 0x06;
    assert_int_equal(ether_classify(f, 42), ETHER_ARP);
    f[12] = 0x86, f[13] = 0xdd;
    assert_int_equal(ether_classify(f, 60), ETHER_OTHER);
    f[12] = 0x81, f[13] = 0x00;   // a VLAN tag is not carried either
    assert_int_equal(ether_classify(f, 60), ETHER_OTHER);
}

static void test_arp_reply_bytes(void **state)
{
    (void)state;
    uint8_t req[42], reply[42];
    arp_frame(req, 1, self_ip, IP(10, 100, 3, 4));
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 42);
    static const uint8_t want[42] = {
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x01,   // to the asker
        0x02, 0x77, 10, 100, 3, 4,             // from the peer's made-up MAC
        0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,   // ARP reply
        0x02, 0x77, 10, 100, 3, 4, 10, 100, 3, 4,                     // sender: peer MAC, peer IP
        0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 10, 100, 0, 1,            // target: the asker
    };
    assert_memory_equal(reply, want, sizeof want);
    // a longer frame (Ethernet padding to 60 bytes) is the same request
    uint8_t padded[60] = {0};
    memcpy(padded, req, sizeof req);
    assert_int_equal(ether_arp_reply(padded, sizeof padded, self_ip, net, mask, reply), 42);
}

static void test_arp_not_answered(void **state)
{
    (void)state;
    uint8_t req[42], reply[42];
    arp_frame(req, 1, self_ip, IP(192, 168, 1, 1));   // outside the overlay
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, self_ip);              // our own address (duplicate address detection)
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, IP(10, 100, 0, 9), IP(10, 100, 0, 9));   // gratuitous
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, IP(10, 100, 255, 255));  // the broadcast address
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, net);                    // the network address
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 2, self_ip, IP(10, 100, 3, 4));      // a reply, not a request
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, IP(10, 100, 3, 4));
    assert_int_equal(ether_arp_reply(req, 41, self_ip, net, mask, reply), 0);   // truncated
    req[18] = 8;                                        // hardware length not 6
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, IP(10, 100, 3, 4));
    req[16] = 0x86, req[17] = 0xdd;                     // protocol not IPv4
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
    arp_frame(req, 1, self_ip, IP(10, 100, 3, 4));
    req[12] = 0x08, req[13] = 0x00;                     // an IPv4 frame is no ARP request
    assert_int_equal(ether_arp_reply(req, sizeof req, self_ip, net, mask, reply), 0);
}

static void test_header_for_packet(void **state)
{
    (void)state;
    uint8_t pkt[20] = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 1, 0, 0, 10, 100, 0, 2, 10, 100, 0, 1};
    uint8_t header[14];
    ether_header_for_ipv4(pkt, kernel_mac, header);
    static const uint8_t want[14] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 0x02, 0x77, 10, 100, 0, 2, 0x08, 0x00};
    assert_memory_equal(header, want, sizeof want);
    uint8_t mac[6];
    ether_mac_for_ipv4(IP(10, 100, 0, 2), mac);
    assert_memory_equal(mac, want + 6, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_arp_reply_bytes),
        cmocka_unit_test(test_arp_not_answered),
        cmocka_unit_test(test_header_for_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
