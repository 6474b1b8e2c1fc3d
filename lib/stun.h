// stun.h — the STUN message codec (RFC 5389/8489, with the RFC 3489 and RFC 5780 attributes NAT discovery
// needs): builds Binding requests (optionally with CHANGE-REQUEST and FINGERPRINT) and decodes any STUN
// message from the network into a flat struct. Every length is checked; a bad message is an error with a
// reason, never a crash. No authentication (MESSAGE-INTEGRITY is skipped, not verified): weft uses STUN only
// to learn addresses, never to trust a peer.
#ifndef WEFT_STUN_H
#define WEFT_STUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442   // spelled as libnice's stun/constants.h does: both can be included
#define STUN_TXID_LEN 12
#define STUN_MAX_MESSAGE 1500     // what we build or accept over UDP
#define STUN_ADDR_TEXT 64         // "ip:port" / "[v6]:port"

// Message types (method Binding, the four classes)
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_INDICATION 0x0011
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR 0x0111

// Attributes
#define STUN_ATTR_MAPPED_ADDRESS 0x0001
#define STUN_ATTR_CHANGE_REQUEST 0x0003     // RFC 3489, kept by RFC 5780
#define STUN_ATTR_SOURCE_ADDRESS 0x0004     // RFC 3489
#define STUN_ATTR_CHANGED_ADDRESS 0x0005    // RFC 3489
#define STUN_ATTR_USERNAME 0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define STUN_ATTR_ERROR_CODE 0x0009
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_SOFTWARE 0x8022
#define STUN_ATTR_FINGERPRINT 0x8028
#define STUN_ATTR_RESPONSE_ORIGIN 0x802b    // RFC 5780
#define STUN_ATTR_OTHER_ADDRESS 0x802c      // RFC 5780

#define STUN_CHANGE_IP 0x04
#define STUN_CHANGE_PORT 0x02

// A transport address from an address attribute (network byte order nowhere: plain values).
typedef struct {
    int family;          // AF_INET or AF_INET6; 0 = absent
    uint8_t addr[16];    // 4 bytes used for IPv4
    uint16_t port;
} stun_addr_t;

// What a decoded message holds. Absent attributes have family 0 / has_* false.
typedef struct {
    uint16_t type;                  // message type, e.g. STUN_BINDING_SUCCESS
    bool magic_cookie;              // RFC 5389 (true) or RFC 3489 (false: the cookie word is txid)
    uint8_t txid[STUN_TXID_LEN];    // the 96-bit transaction id (after the cookie word)
    uint32_t cookie_word;           // bytes 4..7 as sent (the RFC 3489 txid's first word)
    stun_addr_t xor_mapped;         // XOR-MAPPED-ADDRESS (decoded only with the magic cookie)
    stun_addr_t mapped;             // MAPPED-ADDRESS
    stun_addr_t other_address;      // OTHER-ADDRESS (RFC 5780)
    stun_addr_t changed_address;    // CHANGED-ADDRESS (RFC 3489)
    stun_addr_t response_origin;    // RESPONSE-ORIGIN (RFC 5780)
    stun_addr_t source_address;     // SOURCE-ADDRESS (RFC 3489)
    bool has_change_request;
    uint8_t change_flags;           // STUN_CHANGE_IP | STUN_CHANGE_PORT
    bool has_error;
    int error_code;                 // 300..699
    char error_reason[128];
    char software[128];             // SOFTWARE, "" if absent (control characters replaced by '?')
    bool has_fingerprint;           // FINGERPRINT present (decode fails when it does not match)
    bool has_integrity;             // MESSAGE-INTEGRITY present (not verified)
    int unknown_required;           // comprehension-required attributes we do not know (RFC 5389 7.3)
} stun_message_t;

// A Binding request to build.
typedef struct {
    uint8_t txid[STUN_TXID_LEN];
    uint8_t change_flags;           // 0, or STUN_CHANGE_IP / STUN_CHANGE_PORT: adds CHANGE-REQUEST
    const char *software;           // NULL: no SOFTWARE attribute
    bool fingerprint;               // append FINGERPRINT
} stun_request_t;

// Fills txid with random bytes (libsodium).
void stun_new_txid(uint8_t txid[STUN_TXID_LEN]);

// Builds a Binding request into out. Returns its length, or 0 when it does not fit in cap.
size_t stun_build_binding_request(const stun_request_t *req, uint8_t *out, size_t cap);

// Builds a Binding success response (what a server sends; for tests and fuzz seeds): XOR-MAPPED-ADDRESS
// and MAPPED-ADDRESS of `mapped`, OTHER-ADDRESS of `other` if other->family, SOFTWARE, FINGERPRINT.
size_t stun_build_binding_response(const uint8_t txid[STUN_TXID_LEN], const stun_addr_t *mapped,
                                   const stun_addr_t *other, const char *software, uint8_t *out, size_t cap);

// Builds a server's Binding success answer to a decoded request, in the request's form: with the magic
// cookie (RFC 5389) XOR-MAPPED-ADDRESS and MAPPED-ADDRESS of `mapped`, FINGERPRINT when the request had
// one; without it (RFC 3489, as libnice asks in RFC 5245 mode) MAPPED-ADDRESS only, the 16-byte transaction
// id echoed. No SOFTWARE: an answer stays small (a spoofed request reflects at most about 2.5 times its size).
// Returns its length, or 0 when it does not fit in cap.
size_t stun_build_binding_answer(const stun_message_t *request, const stun_addr_t *mapped, uint8_t *out, size_t cap);

// True when buf starts like a STUN message (top two bits zero, length multiple of 4, cookie or not):
// a cheap filter before stun_decode.
bool stun_looks_like(const uint8_t *buf, size_t len);

// Decodes one message. Returns 0, or -1 with the reason in err ("truncated attribute 0x0020", ...).
int stun_decode(const uint8_t *buf, size_t len, stun_message_t *msg, char *err, size_t err_len);

// The address a Binding response reports: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS; NULL if neither.
const stun_addr_t *stun_mapped_address(const stun_message_t *msg);
// The server's alternate address: OTHER-ADDRESS, else CHANGED-ADDRESS; NULL if neither.
const stun_addr_t *stun_alternate_address(const stun_message_t *msg);

// CRC-32 (ISO 3309, as FINGERPRINT uses before its XOR with 0x5354554e).
uint32_t stun_crc32(const uint8_t *buf, size_t len);

// Conversions between stun_addr_t and sockaddr_in / text.
void stun_addr_from_sockaddr(stun_addr_t *a, const struct sockaddr_in *sin);
int stun_addr_to_sockaddr(const stun_addr_t *a, struct sockaddr_in *sin);   // -1 unless IPv4
bool stun_addr_equal(const stun_addr_t *a, const stun_addr_t *b);
void stun_addr_to_text(const stun_addr_t *a, char out[STUN_ADDR_TEXT]);     // "ip:port", "" if absent

#endif
