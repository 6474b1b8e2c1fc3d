// key_msg.c — see key_msg.h.
#include "key_msg.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static Weft__Keypair__Cipher cipher_to_wire(transport_cipher_t cipher)
{
    return cipher == TRANSPORT_AES256_GCM ? WEFT__KEYPAIR__CIPHER__AES_256_GCM
                                          : WEFT__KEYPAIR__CIPHER__CHACHA20_POLY1305;
}

static int cipher_from_wire(Weft__Keypair__Cipher wire, transport_cipher_t *out)
{
    switch (wire) {
    case WEFT__KEYPAIR__CIPHER__CHACHA20_POLY1305: *out = TRANSPORT_CHACHA20_POLY1305; return 0;
    case WEFT__KEYPAIR__CIPHER__AES_256_GCM: *out = TRANSPORT_AES256_GCM; return 0;
    default: return -1;
    }
}

void key_msg_keypair(Weft__Keypair *msg, const keyring_keypair_t *kp)
{
    weft__keypair__init(msg);
    msg->peer.data = (uint8_t *)kp->peer;
    msg->peer.len = WIRE_ID_LEN;
    msg->local_index = kp->local_index;
    msg->remote_index = kp->remote_index;
    msg->initiator = kp->initiator;
    msg->cipher = cipher_to_wire(kp->cipher);
    msg->send_key.data = (uint8_t *)kp->send_key;
    msg->send_key.len = TRANSPORT_KEY_LEN;
    msg->recv_key.data = (uint8_t *)kp->recv_key;
    msg->recv_key.len = TRANSPORT_KEY_LEN;
}

int key_msg_read_keypair(const Weft__Keypair *msg, keyring_keypair_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    const char *bad = NULL;
    if (msg->peer.len != WIRE_ID_LEN)
        bad = "its peer id is not 32 bytes";
    else if (msg->send_key.len != TRANSPORT_KEY_LEN || msg->recv_key.len != TRANSPORT_KEY_LEN)
        bad = "a key is not 32 bytes";
    else if (msg->local_index == 0 || msg->remote_index == 0)
        bad = "an index is 0";
    else if (cipher_from_wire(msg->cipher, &out->cipher) != 0)
        bad = "its cipher is unknown";
    if (bad) {
        snprintf(why, why_len, "keypair refused: %s", bad);
        sodium_memzero(out, sizeof *out);
        return -1;
    }
    memcpy(out->peer, msg->peer.data, WIRE_ID_LEN);
    out->local_index = msg->local_index;
    out->remote_index = msg->remote_index;
    out->initiator = msg->initiator;
    memcpy(out->send_key, msg->send_key.data, TRANSPORT_KEY_LEN);
    memcpy(out->recv_key, msg->recv_key.data, TRANSPORT_KEY_LEN);
    return 0;
}

void key_msg_event(Weft__KeyEvent *msg, const key_event_t *ev)
{
    weft__key_event__init(msg);
    msg->peer.data = (uint8_t *)ev->peer;
    msg->peer.len = WIRE_ID_LEN;
    msg->kind = (Weft__KeyEvent__Kind)ev->kind;
    msg->cipher = cipher_to_wire(ev->cipher);
    msg->age_ms = ev->age_ms;
}

int key_msg_read_event(const Weft__KeyEvent *msg, key_event_t *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof *out);
    const char *bad = NULL;
    if (msg->peer.len != WIRE_ID_LEN)
        bad = "its peer id is not 32 bytes";
    else if ((int)msg->kind < KEY_EVENT_WANT_SESSION || (int)msg->kind > KEY_EVENT_CURRENT)
        bad = "its kind is unknown";
    else if (cipher_from_wire(msg->cipher, &out->cipher) != 0)
        bad = "its cipher is unknown";
    if (bad) {
        snprintf(why, why_len, "key event refused: %s", bad);
        return -1;
    }
    memcpy(out->peer, msg->peer.data, WIRE_ID_LEN);
    out->kind = (key_event_kind_t)msg->kind;
    out->age_ms = msg->age_ms;
    return 0;
}

void key_msg_drop(Weft__KeysDrop *msg, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue)
{
    weft__keys_drop__init(msg);
    msg->peer.data = (uint8_t *)peer;
    msg->peer.len = WIRE_ID_LEN;
    msg->keys = keys;
    msg->queue = queue;
}

int key_msg_send_keypair(zsock_t *sock, const keyring_keypair_t *kp)
{
    Weft__Keypair msg;
    key_msg_keypair(&msg, kp);
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_KEYPAIR;
    env.keypair = &msg;
    return wire_send(sock, &env, NULL, 0, true);
}

int key_msg_send_drop(zsock_t *sock, const uint8_t peer[WIRE_ID_LEN], bool keys, bool queue)
{
    Weft__KeysDrop msg;
    key_msg_drop(&msg, peer, keys, queue);
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_KEYS_DROP;
    env.keys_drop = &msg;
    return wire_send(sock, &env, NULL, 0, true);
}

int key_msg_send_event(zsock_t *sock, const key_event_t *ev)
{
    Weft__KeyEvent msg;
    key_msg_event(&msg, ev);
    Weft__Envelope env = WEFT__ENVELOPE__INIT;
    env.body_case = WEFT__ENVELOPE__BODY_KEY_EVENT;
    env.key_event = &msg;
    return wire_send(sock, &env, NULL, 0, true);
}

void key_msg_wipe(Weft__Envelope *env)
{
    if (!env || env->body_case != WEFT__ENVELOPE__BODY_KEYPAIR || !env->keypair)
        return;
    Weft__Keypair *kp = env->keypair;
    if (kp->send_key.data)
        sodium_memzero(kp->send_key.data, kp->send_key.len);
    if (kp->recv_key.data)
        sodium_memzero(kp->recv_key.data, kp->recv_key.len);
}
