// ether.c — see ether.h.
#include "ether.h"
#include "bytes.h"

#include <string.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ARP_REQUEST 1
#define ARP_REPLY 2

ether_kind_t ether_classify(const uint8_t *frame, size_t len)
{
    if (len < ETHER_HEADER_LEN)
        return ETHER_RUNT;
    switch (be_get16(frame + 12)) {
    case ETHERTYPE_IPV4: return ETHER_IPV4;
    case ETHERTYPE_ARP: return ETHER_ARP;
    default: return ETHER_OTHER;
    }
}

void ether_mac_for_ipv4(uint32_t addr, uint8_t mac[ETHER_ADDR_LEN])
{
    mac[0] = 0x02;   // locally administered, unicast
    mac[1] = 0x77;
    be_put32(mac + 2, addr);
}

size_t ether_arp_reply(const uint8_t *frame, size_t len, uint32_t self, uint32_t net, uint32_t mask,
                       uint8_t reply[ETHER_ARP_FRAME_LEN])
{
    if (len < ETHER_ARP_FRAME_LEN || ether_classify(frame, len) != ETHER_ARP)
        return 0;
    const uint8_t *arp = frame + ETHER_HEADER_LEN;
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, a request
    if (be_get16(arp) != 1 || be_get16(arp + 2) != ETHERTYPE_IPV4 || arp[4] != ETHER_ADDR_LEN || arp[5] != 4 ||
        be_get16(arp + 6) != ARP_REQUEST)
        return 0;
    const uint8_t *sender_mac = arp + 8;
    uint32_t sender_ip = be_get32(arp + 14);
    uint32_t target_ip = be_get32(arp + 24);
    if ((target_ip & mask) != net || target_ip == self || target_ip == sender_ip)
        return 0;   // not an overlay peer's address, or our own (or a gratuitous ARP): the kernel's business
    if (target_ip == net || (mask != 0xffffffffu && target_ip == (net | ~mask)))
        return 0;   // the network's own and broadcast addresses belong to nobody
    uint8_t target_mac[ETHER_ADDR_LEN];
    ether_mac_for_ipv4(target_ip, target_mac);

    memcpy(reply, sender_mac, ETHER_ADDR_LEN);                 // Ethernet: to the asker
    memcpy(reply + 6, target_mac, ETHER_ADDR_LEN);             //           from the peer's MAC
    be_put16(reply + 12, ETHERTYPE_ARP);
    uint8_t *out = reply + ETHER_HEADER_LEN;
    be_put16(out, 1);
    be_put16(out + 2, ETHERTYPE_IPV4);
    out[4] = ETHER_ADDR_LEN;
    out[5] = 4;
    be_put16(out + 6, ARP_REPLY);
    memcpy(out + 8, target_mac, ETHER_ADDR_LEN);               // sender: the peer
    be_put32(out + 14, target_ip);
    memcpy(out + 18, sender_mac, ETHER_ADDR_LEN);              // target: the asker
    be_put32(out + 24, sender_ip);
    return ETHER_ARP_FRAME_LEN;
}

void ether_header_for_ipv4(const uint8_t *pkt, const uint8_t device_mac[ETHER_ADDR_LEN],
                           uint8_t header[ETHER_HEADER_LEN])
{
    memcpy(header, device_mac, ETHER_ADDR_LEN);
    ether_mac_for_ipv4(be_get32(pkt + 12), header + 6);
    be_put16(header + 12, ETHERTYPE_IPV4);
}
