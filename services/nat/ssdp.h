// ssdp.h — finding a UPnP Internet Gateway Device with one SSDP M-SEARCH (UPnP Device Architecture 1.1,
// section 1.3), returning as soon as the first gateway answers. (libminiupnpc's upnpDiscover* wait at
// least a whole second after the last answer, which the first offer of weft-nat cannot afford.)
// Owns nothing: one socket per search, closed before it returns.
#ifndef WEFT_NAT_SSDP_H
#define WEFT_NAT_SSDP_H

#include <stddef.h>

#define SSDP_LOCATION_MAX 512
#define SSDP_IGD_TYPE "urn:schemas-upnp-org:device:InternetGatewayDevice:1"

// Sends the M-SEARCH for an IGD to 239.255.255.250:1900 and waits at most timeout_ms for an answer with
// a LOCATION. Returns 0 with the description URL in location, or -1 (no answer, no route).
int ssdp_find_igd(int timeout_ms, char location[SSDP_LOCATION_MAX]);

// From one SSDP answer (a datagram from the network): the LOCATION header's value if it is an http://
// URL of printable characters shorter than SSDP_LOCATION_MAX. Returns 0, or -1 when there is none.
int ssdp_parse_location(const char *buf, size_t len, char location[SSDP_LOCATION_MAX]);

#endif
