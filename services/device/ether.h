// ether.h — what weft-device does with Ethernet frames when device.mode is tap. The mesh carries IPv4
// packets (L3); a TAP device speaks Ethernet (L2), so the device is the overlay's one-hop "switch":
//   - an IPv4 frame from the kernel loses its 14-byte Ethernet header and goes on as a packet;
//   - an ARP request for another overlay address is answered here, with a MAC made from that address
//     (02:77:a:b:c:d, locally administered), so the kernel sends the frames for it to us;
//   - a packet from the mesh gets an Ethernet header (to our device's MAC, from the sender's made-up MAC);
//   - every other frame (IPv6, other ethertypes, ARP for addresses outside the overlay) is dropped.
// Pure functions on byte buffers: nothing here touches the device.
#ifndef WEFT_DEVICE_ETHER_H
#define WEFT_DEVICE_ETHER_H

#include <stddef.h>
#include <stdint.h>

#define ETHER_HEADER_LEN 14
#define ETHER_ADDR_LEN 6
#define ETHER_ARP_FRAME_LEN 42          // Ethernet header + ARP for IPv4 over Ethernet

typedef enum {
    ETHER_IPV4 = 0,     // an IPv4 frame: the packet starts at ETHER_HEADER_LEN
    ETHER_ARP,          // an ARP frame (answer it with ether_arp_reply)
    ETHER_OTHER,        // another ethertype (IPv6, VLAN, ...): not carried
    ETHER_RUNT          // shorter than an Ethernet header
} ether_kind_t;

ether_kind_t ether_classify(const uint8_t *frame, size_t len);

// The MAC this device answers ARP with for overlay address addr (host byte order): 02:77:a:b:c:d.
void ether_mac_for_ipv4(uint32_t addr, uint8_t mac[ETHER_ADDR_LEN]);

// If frame is an ARP request (Ethernet, IPv4) for an address inside net/mask (host byte order) other
// than `self` and other than the asker's own, writes the reply frame into reply (ETHER_ARP_FRAME_LEN
// bytes) and returns its length. Returns 0 for any other frame (not a request, malformed, outside).
size_t ether_arp_reply(const uint8_t *frame, size_t len, uint32_t self, uint32_t net, uint32_t mask,
                       uint8_t reply[ETHER_ARP_FRAME_LEN]);

// The Ethernet header for an IPv4 packet from the mesh: to `device_mac`, from the sender's made-up MAC
// (ether_mac_for_ipv4 of the packet's source address), type IPv4. pkt must hold at least 20 bytes.
void ether_header_for_ipv4(const uint8_t *pkt, const uint8_t device_mac[ETHER_ADDR_LEN],
                           uint8_t header[ETHER_HEADER_LEN]);

#endif
