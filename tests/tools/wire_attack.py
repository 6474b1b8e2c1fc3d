#!/usr/bin/env python3
"""wire_attack.py — an attacker without keys on the underlay, for the security regression tests.

  wire_attack.py stun-requests PCAP SRC_IP DST_IP:PORT [--max N]
      prints, one per line in hex, the STUN Binding requests SRC_IP sent to DST_IP:PORT in a pcap file
      (Ethernet or Linux cooked capture, IPv4/UDP), the connectivity checks an attacker on the path
      could capture and replay.
  wire_attack.py inject --dst IP:PORT --inner-src IP --inner-dst IP --inner-port N [--spoof-src IP:PORT]
                        [--replay HEX ...] [--count N] [--payload TEXT]
      sends COUNT datagrams to DST, each a raw IPv4/UDP packet (inner source INNER-SRC, destination
      INNER-DST:INNER-PORT, the payload TEXT) with no weft header: what a keyless host would try to get
      into the overlay. With --spoof-src the outer packet is forged (raw socket) to come from that address;
      otherwise it comes from an ordinary UDP socket, which first sends the --replay datagrams (captured STUN
      checks) so that an ICE agent may learn this address as the peer's.

Every run sends a bounded number of datagrams to the address it is given, and nothing else.
"""
import argparse
import socket
import struct
import sys
import time

STUN_MAGIC = 0x2112A442


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(src, sport, dst, dport, payload):
    """An IPv4 packet holding a UDP datagram, checksums filled in."""
    udp_len = 8 + len(payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    csum = checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0x1234, 0, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + udp


def host_port(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def pcap_udp(path):
    """Yields (src_ip, sport, dst_ip, dport, payload) for each IPv4/UDP packet of a pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:           # Ethernet
            if len(frame) < 14 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
        elif linktype == 113:       # Linux cooked
            if len(frame) < 16 or frame[14:16] != b"\x08\x00":
                continue
            ip = frame[16:]
        else:
            continue
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        sport, dport, ulen = struct.unpack("!HHH", ip[ihl:ihl + 6])
        yield (socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport,
               ip[ihl + 8:ihl + ulen])


def stun_requests(args):
    dst_ip, dst_port = host_port(args.dst)
    found = 0
    for src, _sport, dst, dport, payload in pcap_udp(args.pcap):
        if src != args.src_ip or dst != dst_ip or dport != dst_port or len(payload) < 20:
            continue
        msg_type, _length, magic = struct.unpack("!HHI", payload[:8])
        if msg_type == 0x0001 and magic == STUN_MAGIC:
            print(payload.hex())
            found += 1
            if found >= args.max:
                break
    return 0


def inject(args):
    dst = host_port(args.dst)
    inner = ipv4_udp(args.inner_src, 40000, args.inner_dst, args.inner_port, args.payload.encode())
    if args.spoof_src:
        src_ip, src_port = host_port(args.spoof_src)
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        outer = ipv4_udp(src_ip, src_port, dst[0], dst[1], inner)
        for _ in range(args.count):
            raw.sendto(outer, (dst[0], 0))
            time.sleep(0.05)
        raw.close()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(0.2)
        for hexmsg in args.replay:
            sock.sendto(bytes.fromhex(hexmsg), dst)
            try:                     # the agent's answer, if any (not needed, only drained)
                sock.recv(2048)
            except socket.timeout:
                pass
        for _ in range(args.count):
            sock.sendto(inner, dst)
            time.sleep(0.05)
        sock.close()
    print("sent %d injected datagrams to %s:%d%s" % (args.count, dst[0], dst[1],
                                                       " (spoofed source %s)" % args.spoof_src
                                                       if args.spoof_src else
                                                       " after %d replayed STUN checks" % len(args.replay)))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stun-requests")
    s.add_argument("pcap")
    s.add_argument("src_ip")
    s.add_argument("dst")
    s.add_argument("--max", type=int, default=3)
    i = sub.add_parser("inject")
    i.add_argument("--dst", required=True)
    i.add_argument("--inner-src", required=True)
    i.add_argument("--inner-dst", required=True)
    i.add_argument("--inner-port", type=int, required=True)
    i.add_argument("--spoof-src")
    i.add_argument("--replay", nargs="*", default=[])
    i.add_argument("--count", type=int, default=3)
    i.add_argument("--payload", default="INJECTED by a host without keys")
    args = p.parse_args()
    if args.cmd == "inject" and not 0 < args.count <= 1000:
        sys.exit("--count must be 1 to 1000")
    return stun_requests(args) if args.cmd == "stun-requests" else inject(args)


if __name__ == "__main__":
    sys.exit(main())
