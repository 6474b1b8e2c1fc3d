// test_hub_proto.c — unit tests for the hub protocol checks (services/hub/hub_proto.c): field
// validation, request decoding of good and bad frames, and error replies.
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hub_proto.h"

static uint8_t test_id[32] = {1, 2, 3};
static uint8_t other_id[32] = {9, 8, 7};

static void test_mesh_names(void **state)
{
    (void)state;
    char long_name[80];
    memset(long_name, 'a', sizeof long_name);
    long_name[63] = '\0';
    assert_true(hub_valid_mesh("a"));
    assert_true(hub_valid_mesh("home-lab_2.x"));
    assert_true(hub_valid_mesh(long_name));
    long_name[63] = 'a';
    long_name[64] = '\0';
    assert_false(hub_valid_mesh(long_name));
    assert_false(hub_valid_mesh(""));
    assert_false(hub_valid_mesh(NULL));
    assert_false(hub_valid_mesh("a b"));
    assert_false(hub_valid_mesh("a:b"));
    assert_false(hub_valid_mesh("mesh\n"));
}

static void test_names_and_addresses(void **state)
{
    (void)state;
    assert_true(hub_valid_name(""));
    assert_true(hub_valid_name("laptop of ana"));
    assert_false(hub_valid_name("bad\x01name"));
    char long_name[80];
    memset(long_name, 'n', sizeof long_name);
    long_name[64] = '\0';
    assert_false(hub_valid_name(long_name));
    assert_true(hub_valid_ipv4("10.100.0.2"));
    assert_false(hub_valid_ipv4("10.100.0.256"));
    assert_false(hub_valid_ipv4("10.100.0"));
    assert_false(hub_valid_ipv4("::1"));
    assert_false(hub_valid_ipv4(""));
    assert_false(hub_valid_ipv4("10.100.0.2/16"));
}

static uint8_t *pack_request(const Weft__HubRequest *req, size_t *len)
{
    *len = weft__hub_request__get_packed_size(req);
    uint8_t *buf = malloc(*len ? *len : 1);
    weft__hub_request__pack(req, buf);
    return buf;
}

static Weft__HubRequest *parse_register(const char *mesh, size_t id_len, const char *name, const char *addr)
{
    Weft__Register reg = WEFT__REGISTER__INIT;
    reg.mesh = (char *)mesh;
    reg.id.data = test_id;
    reg.id.len = id_len;
    reg.name = (char *)name;
    reg.overlay_addr = (char *)addr;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER;
    req.register_ = &reg;
    size_t len;
    uint8_t *buf = pack_request(&req, &len);
    char why[160];
    Weft__HubRequest *parsed = hub_request_parse(buf, len, why, sizeof why);
    free(buf);
    return parsed;
}

static void test_register(void **state)
{
    (void)state;
    Weft__HubRequest *ok = parse_register("default", 32, "node-a", "10.100.0.1");
    assert_non_null(ok);
    assert_int_equal(ok->body_case, WEFT__HUB_REQUEST__BODY_REGISTER);
    assert_memory_equal(ok->register_->id.data, test_id, 32);
    weft__hub_request__free_unpacked(ok, NULL);
    assert_null(parse_register("default", 31, "node-a", "10.100.0.1"));
    assert_null(parse_register("", 32, "node-a", "10.100.0.1"));
    assert_null(parse_register("default", 32, "node-a", "not-an-address"));
    assert_null(parse_register("default", 32, "bad\tname", "10.100.0.1"));
}

static Weft__HubRequest *parse_signal(Weft__Signal *sig)
{
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_SIGNAL;
    req.signal = sig;
    size_t len;
    uint8_t *buf = pack_request(&req, &len);
    char why[160];
    Weft__HubRequest *parsed = hub_request_parse(buf, len, why, sizeof why);
    free(buf);
    return parsed;
}

static void test_signal(void **state)
{
    (void)state;
    Weft__Signal sig = WEFT__SIGNAL__INIT;
    sig.from.data = test_id;
    sig.from.len = 32;
    sig.to.data = other_id;
    sig.to.len = 32;
    sig.ufrag = "abcd";
    char *cands[HUB_SIGNAL_MAX_CANDIDATES + 1];
    for (int i = 0; i <= HUB_SIGNAL_MAX_CANDIDATES; i++)
        cands[i] = "a=candidate:1 1 UDP 2130706431 10.0.0.1 5000 typ host";
    sig.candidates = cands;
    sig.n_candidates = 2;
    Weft__HubRequest *ok = parse_signal(&sig);
    assert_non_null(ok);
    assert_int_equal(ok->signal->n_candidates, 2);
    weft__hub_request__free_unpacked(ok, NULL);

    sig.n_candidates = HUB_SIGNAL_MAX_CANDIDATES + 1;
    assert_null(parse_signal(&sig));
    sig.n_candidates = 1;
    sig.kind = 9;
    assert_null(parse_signal(&sig));
    sig.kind = WEFT__SIGNAL__KIND__ANSWER;
    sig.to.len = 0;
    assert_null(parse_signal(&sig));
}

static void test_garbage(void **state)
{
    (void)state;
    char why[160];
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    assert_null(hub_request_parse(junk, sizeof junk, why, sizeof why));
    assert_null(hub_request_parse((const uint8_t *)"", 0, why, sizeof why));  // no body
    assert_string_equal(why, "request has no body");
    uint8_t *huge = calloc(1, HUB_MAX_FRAME + 1);
    assert_null(hub_request_parse(huge, HUB_MAX_FRAME + 1, why, sizeof why));
    free(huge);
    // a Leave with a short id
    Weft__Leave leave = WEFT__LEAVE__INIT;
    leave.mesh = "default";
    leave.id.data = test_id;
    leave.id.len = 16;
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE;
    req.leave = &leave;
    size_t len;
    uint8_t *buf = pack_request(&req, &len);
    assert_null(hub_request_parse(buf, len, why, sizeof why));
    free(buf);
}

static void test_error_reply(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = hub_error_pack(WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE, "taken", &len);
    assert_non_null(buf);
    Weft__HubReply *reply = weft__hub_reply__unpack(NULL, len, buf);
    assert_non_null(reply);
    assert_int_equal(reply->body_case, WEFT__HUB_REPLY__BODY_ERROR);
    assert_int_equal(reply->error->code, WEFT__HUB_ERROR__CODE__ADDRESS_IN_USE);
    assert_string_equal(reply->error->message, "taken");
    assert_string_equal(hub_error_code_name(reply->error->code), "ADDRESS_IN_USE");
    weft__hub_reply__free_unpacked(reply, NULL);
    free(buf);
}

static Weft__HubRequest *parse_req(Weft__HubRequest *req)
{
    size_t len;
    uint8_t *buf = pack_request(req, &len);
    char why[160];
    Weft__HubRequest *parsed = hub_request_parse(buf, len, why, sizeof why);
    free(buf);
    return parsed;
}

static bool accepted(Weft__HubRequest *req)
{
    Weft__HubRequest *parsed = parse_req(req);
    if (parsed)
        weft__hub_request__free_unpacked(parsed, NULL);
    return parsed != NULL;
}

static void test_cidr(void **state)
{
    (void)state;
    uint32_t net;
    int prefix;
    assert_true(hub_parse_cidr("10.100.0.0/16", &net, &prefix));
    assert_int_equal(net, 0x0a640000u);
    assert_int_equal(prefix, 16);
    assert_true(hub_parse_cidr("10.100.7.9/24", &net, &prefix));  // host bits are cleared
    assert_int_equal(net, 0x0a640700u);
    assert_false(hub_parse_cidr("10.100.0.0", &net, &prefix));
    assert_false(hub_parse_cidr("10.100.0.0/7", &net, &prefix));
    assert_false(hub_parse_cidr("10.100.0.0/31", &net, &prefix));
    assert_false(hub_parse_cidr("10.100.0.0/1a", &net, &prefix));
    assert_false(hub_parse_cidr("10.100.0/16", &net, &prefix));
    assert_false(hub_parse_cidr("/16", &net, &prefix));
    assert_false(hub_parse_cidr(NULL, &net, &prefix));
}

static void test_membership_requests(void **state)
{
    (void)state;
    uint8_t mesh_id[16] = {1}, nonce[16] = {2}, blob[256] = {3};  // blob: big enough for each field
    Weft__HubRequest req = WEFT__HUB_REQUEST__INIT;

    Weft__CreateMesh create = WEFT__CREATE_MESH__INIT;
    create.name = "office";
    create.cidr = "10.100.0.0/16";
    create.admin_key.data = test_id;
    create.admin_key.len = 32;
    create.member_name = "alpha";
    req.body_case = WEFT__HUB_REQUEST__BODY_CREATE_MESH;
    req.create_mesh = &create;
    assert_true(accepted(&req));
    create.cidr = "10.100.0.0/40";
    assert_false(accepted(&req));
    create.cidr = "10.100.0.0/16";
    create.name = "bad name";
    assert_false(accepted(&req));
    create.name = "office";
    create.admin_key.len = 31;
    assert_false(accepted(&req));
    create.admin_key.len = 32;
    create.ttl_s = HUB_ROOM_MAX_TTL + 1;
    assert_false(accepted(&req));
    create.ttl_s = 300;
    assert_true(accepted(&req));

    Weft__RegisterInvite invite = WEFT__REGISTER_INVITE__INIT;
    invite.mesh_id.data = mesh_id;
    invite.mesh_id.len = 16;
    invite.nonce.data = nonce;
    invite.nonce.len = 16;
    invite.max_uses = 1;
    invite.expires = 1800000000;
    req.body_case = WEFT__HUB_REQUEST__BODY_REGISTER_INVITE;
    req.register_invite = &invite;
    assert_true(accepted(&req));
    invite.max_uses = 0;
    assert_false(accepted(&req));
    invite.max_uses = HUB_INVITE_MAX_USES + 1;
    assert_false(accepted(&req));
    invite.max_uses = 2;
    invite.nonce.len = 15;
    assert_false(accepted(&req));

    Weft__Join join = WEFT__JOIN__INIT;
    join.invite.data = blob;
    join.invite.len = 100;
    join.name = "beta";
    join.key.data = other_id;
    join.key.len = 32;
    req.body_case = WEFT__HUB_REQUEST__BODY_JOIN;
    req.join = &join;
    assert_false(accepted(&req));  // no joiner_sig: the admin's node would refuse it anyway
    join.joiner_sig.data = blob;
    join.joiner_sig.len = HUB_JOIN_SIG_LEN - 1;
    assert_false(accepted(&req));
    join.joiner_sig.len = HUB_JOIN_SIG_LEN;
    assert_true(accepted(&req));
    join.invite.len = 0;
    assert_false(accepted(&req));
    join.invite.len = 100;
    join.key.len = 0;
    assert_false(accepted(&req));

    Weft__CertIssued issued = WEFT__CERT_ISSUED__INIT;
    issued.cert.data = blob;
    issued.cert.len = HUB_CERT_LEN;
    issued.error = "";
    req.body_case = WEFT__HUB_REQUEST__BODY_CERT_ISSUED;
    req.cert_issued = &issued;
    assert_true(accepted(&req));
    issued.sealed_psk.data = blob;
    issued.sealed_psk.len = 32;  // a psk not sealed
    assert_false(accepted(&req));
    issued.sealed_psk.len = HUB_SEALED_PSK_LEN;
    issued.cert.len = HUB_CERT_LEN - 1;
    assert_false(accepted(&req));

    Weft__Kick kick = WEFT__KICK__INIT;
    kick.mesh_id = invite.mesh_id;
    kick.revocation.data = blob;
    kick.revocation.len = HUB_REVOCATION_LEN;
    req.body_case = WEFT__HUB_REQUEST__BODY_KICK;
    req.kick = &kick;
    assert_true(accepted(&req));
    kick.revocation.len = 10;
    assert_false(accepted(&req));

    Weft__LeaveMesh leave = WEFT__LEAVE_MESH__INIT;
    leave.mesh_id = invite.mesh_id;
    leave.key = join.key;
    leave.key.len = 32;
    req.body_case = WEFT__HUB_REQUEST__BODY_LEAVE_MESH;
    req.leave_mesh = &leave;
    assert_true(accepted(&req));
    leave.mesh_id.len = 0;
    assert_false(accepted(&req));

    Weft__ListMembers list = WEFT__LIST_MEMBERS__INIT;   // the roster (weft mesh members)
    list.mesh_id = invite.mesh_id;
    list.key = join.key;
    list.key.len = 32;
    req.body_case = WEFT__HUB_REQUEST__BODY_LIST_MEMBERS;
    req.list_members = &list;
    assert_true(accepted(&req));
    list.key.len = 31;
    assert_false(accepted(&req));
    list.key.len = 32;
    list.mesh_id.len = 15;
    assert_false(accepted(&req));

    Weft__RoutesAllow ra = WEFT__ROUTES_ALLOW__INIT;   // weft mesh routes allow|deny
    ra.mesh_id = invite.mesh_id;
    ra.member_key = join.key;
    ra.member_key.len = 32;
    ra.prefix = "192.168.50.0/24";
    ra.allow = true;
    req.body_case = WEFT__HUB_REQUEST__BODY_ROUTES_ALLOW;
    req.routes_allow = &ra;
    assert_true(accepted(&req));
    ra.prefix = "192.168.500.0/24-and-far-too-long";   // the hub checks the prefix itself; this is the length
    assert_false(accepted(&req));
    ra.prefix = "192.168.50.0/24";
    ra.member_key.len = 31;
    assert_false(accepted(&req));
    ra.member_key.len = 32;
    ra.mesh_id.len = 0;
    assert_false(accepted(&req));
    assert_string_equal(hub_error_code_name(WEFT__HUB_ERROR__CODE__INVITE_USED_UP), "INVITE_USED_UP");
    assert_string_equal(hub_error_code_name(WEFT__HUB_ERROR__CODE__QUOTA), "QUOTA");
    assert_string_equal(hub_error_code_name(WEFT__HUB_ERROR__CODE__CLOSED_MESH), "CLOSED_MESH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mesh_names), cmocka_unit_test(test_names_and_addresses),
        cmocka_unit_test(test_register),   cmocka_unit_test(test_signal),
        cmocka_unit_test(test_garbage),    cmocka_unit_test(test_error_reply),
        cmocka_unit_test(test_cidr),       cmocka_unit_test(test_membership_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
