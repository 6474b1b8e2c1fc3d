// test_mesh_store.c — the hub's managed meshes in a real Redis (services/hub/mesh_store.c): create, get,
// list, delete; members and address allocation (lowest free, never twice, also from several processes at
// once); invite uses taken atomically (20 processes, one use: exactly one wins) and given back;
// revocations; the event feed (a subscriber sees one JSON line per change); a room's keys expiring; and
// (members.c) an open mesh's address bindings: an address stays with the key that first held it; the admin's
// allow list of subnet routes (canonical prefixes, bad ones refused, a cap per member, dropped with the
// member and with the mesh).
#include <czmq.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "members.h"
#include "mesh_store.h"
#include "redis_fixture.h"

static redis_fixture_t redis;

static int start_redis(void **state)
{
    (void)state;
    return redis_fixture_setup(&redis, "mesh-store", false);
}

static int stop_redis(void **state)
{
    (void)state;
    return redis_fixture_teardown(&redis);
}

static store_t *connect_store(void)
{
    char err[256];
    store_t *store = store_connect(redis.url, err, sizeof err);
    assert_non_null(store);
    return store;
}

static void key_of(uint8_t key[32], int n)
{
    memset(key, 0, 32);
    key[0] = (uint8_t)(n >> 8);
    key[1] = (uint8_t)n;
    key[31] = 0x77;
}

static void test_create_and_members(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], a[32], b[32];
    key_of(admin, 1);
    key_of(a, 2);
    key_of(b, 3);
    mesh_info_t mesh, got;
    assert_int_equal(mesh_store_create(ms, "bad name", "10.1.0.0/16", admin, false, 0, &mesh), MESH_STORE_BAD);
    assert_int_equal(mesh_store_create(ms, "office", "10.1.7.3/16", admin, true, 0, &mesh), 0);
    assert_string_equal(mesh.cidr, "10.1.0.0/16");
    assert_int_equal(mesh_store_get(ms, mesh.id, &got), 0);
    assert_string_equal(got.name, "office");
    assert_memory_equal(got.admin_key, admin, 32);
    assert_true(got.psk_present);
    assert_int_equal(got.expires, 0);

    mesh_member_t m;
    assert_int_equal(mesh_store_add_member(ms, mesh.id, admin, "alpha", NULL, &m), 0);
    assert_string_equal(m.address, "10.1.0.1");
    assert_int_equal(mesh_store_add_member(ms, mesh.id, a, "beta", NULL, &m), 0);
    assert_string_equal(m.address, "10.1.0.2");
    // a wanted address: outside the mesh, taken, free
    assert_int_equal(mesh_store_add_member(ms, mesh.id, b, "gamma", "10.2.0.9", &m), MESH_STORE_BAD);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, b, "gamma", "10.1.0.2", &m), MESH_STORE_TAKEN);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, b, "gamma", "10.1.0.9", &m), 0);
    // a member again keeps its address
    assert_int_equal(mesh_store_add_member(ms, mesh.id, a, "beta2", NULL, &m), 0);
    assert_string_equal(m.address, "10.1.0.2");
    mesh_member_t list[8];
    assert_int_equal(mesh_store_list_members(ms, mesh.id, list, 8), 3);
    // removal frees the address for the next one
    assert_int_equal(mesh_store_remove_member(ms, mesh.id, a, "leave"), 0);
    assert_int_equal(mesh_store_get_member(ms, mesh.id, a, &m), MESH_STORE_NOT_FOUND);
    assert_int_equal(mesh_store_remove_member(ms, mesh.id, a, "leave"), MESH_STORE_NOT_FOUND);
    uint8_t c[32];
    key_of(c, 4);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, c, "delta", NULL, &m), 0);
    assert_string_equal(m.address, "10.1.0.2");

    mesh_info_t all[8];
    int n = mesh_store_list(ms, all, 8);
    assert_true(n >= 1);
    assert_int_equal(mesh_store_delete(ms, mesh.id), 0);
    assert_int_equal(mesh_store_get(ms, mesh.id, &got), MESH_STORE_NOT_FOUND);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, a, "x", NULL, &m), MESH_STORE_NOT_FOUND);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_small_mesh_fills_up(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], k[32];
    key_of(admin, 1);
    mesh_info_t mesh;
    assert_int_equal(mesh_store_create(ms, "tiny", "192.168.5.0/30", admin, false, 0, &mesh), 0);
    mesh_member_t m;
    key_of(k, 10);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, k, "", NULL, &m), 0);
    assert_string_equal(m.address, "192.168.5.1");
    key_of(k, 11);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, k, "", NULL, &m), 0);
    assert_string_equal(m.address, "192.168.5.2");
    key_of(k, 12);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, k, "", NULL, &m), MESH_STORE_FULL);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

// Several processes allocate at once: every address is handed out once.
static void test_concurrent_allocation(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32];
    key_of(admin, 1);
    mesh_info_t mesh;
    assert_int_equal(mesh_store_create(ms, "busy", "10.9.0.0/16", admin, false, 0, &mesh), 0);
    enum { WORKERS = 4, EACH = 25 };
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            char err[256];
            store_t *s = store_connect(redis.url, err, sizeof err);
            mesh_store_t *mine = mesh_store_new(s);
            int failures = 0;
            for (int i = 0; i < EACH; i++) {
                uint8_t k[32];
                mesh_member_t m;
                key_of(k, 100 + w * EACH + i);
                failures += mesh_store_add_member(mine, mesh.id, k, "", NULL, &m) != 0;
            }
            _exit(failures);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    static mesh_member_t list[WORKERS * EACH + 1];
    int n = mesh_store_list_members(ms, mesh.id, list, WORKERS * EACH + 1);
    assert_int_equal(n, WORKERS * EACH);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_string_not_equal(list[i].address, list[j].address);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_invites(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], nonce[16], other_nonce[16];
    key_of(admin, 1);
    memset(nonce, 0x4e, sizeof nonce);
    memset(other_nonce, 0x4f, sizeof other_nonce);
    mesh_info_t mesh, other;
    assert_int_equal(mesh_store_create(ms, "inv", "10.5.0.0/16", admin, false, 0, &mesh), 0);
    assert_int_equal(mesh_store_create(ms, "inv2", "10.6.0.0/16", admin, false, 0, &other), 0);
    uint64_t expires = (uint64_t)(zclock_time() / 1000) + 3600;
    assert_int_equal(mesh_store_invite_use(ms, mesh.id, nonce), MESH_STORE_NOT_FOUND);  // never registered
    assert_int_equal(mesh_store_invite_register(ms, mesh.id, nonce, 1, expires), 0);
    assert_int_equal(mesh_store_invite_use(ms, other.id, nonce), MESH_STORE_NOT_FOUND);  // another mesh's
    // 20 processes race for the one use
    enum { RACERS = 20 };
    pid_t pids[RACERS];
    for (int r = 0; r < RACERS; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            char err[256];
            store_t *s = store_connect(redis.url, err, sizeof err);
            mesh_store_t *mine = mesh_store_new(s);
            _exit(mesh_store_invite_use(mine, mesh.id, nonce) == 0 ? 0 : 1);
        }
    }
    int winners = 0;
    for (int r = 0; r < RACERS; r++) {
        int status;
        waitpid(pids[r], &status, 0);
        winners += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    assert_int_equal(winners, 1);
    assert_int_equal(mesh_store_invite_use(ms, mesh.id, nonce), MESH_STORE_USED_UP);
    assert_int_equal(mesh_store_invite_give_back(ms, nonce), 0);
    assert_int_equal(mesh_store_invite_use(ms, mesh.id, nonce), 0);
    // giving back a use of an invite that is gone does not create one
    assert_int_equal(mesh_store_invite_give_back(ms, other_nonce), 0);
    assert_int_equal(mesh_store_invite_use(ms, mesh.id, other_nonce), MESH_STORE_NOT_FOUND);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_revocations_and_events(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], a[32];
    key_of(admin, 1);
    key_of(a, 2);
    mesh_info_t mesh;
    assert_int_equal(mesh_store_create(ms, "rev", "10.7.0.0/16", admin, false, 0, &mesh), 0);
    // a subscriber on the mesh's event channel
    char err[256];
    redisContext *sub = redisConnectUnix(redis.sock);
    assert_non_null(sub);
    assert_int_equal(sub->err, 0);
    redisReply *r = redisCommand(sub, "SUBSCRIBE hub:events:%s", mesh.id_hex);
    assert_non_null(r);
    freeReplyObject(r);
    (void)err;
    mesh_member_t m;
    assert_int_equal(mesh_store_add_member(ms, mesh.id, a, "beta", NULL, &m), 0);
    uint8_t rev[153];
    memset(rev, 0xab, sizeof rev);
    assert_int_equal(mesh_store_is_revoked(ms, mesh.id, a), 0);
    assert_int_equal(mesh_store_revoke(ms, mesh.id, a, rev, sizeof rev), 0);
    assert_int_equal(mesh_store_remove_member(ms, mesh.id, a, "kick"), 0);
    assert_int_equal(mesh_store_is_revoked(ms, mesh.id, a), 1);
    uint8_t out[2 * 153];
    assert_int_equal(mesh_store_revocations(ms, mesh.id, out, 153, 2), 1);
    assert_memory_equal(out, rev, sizeof rev);

    const char *want[] = {"\"event\":\"join\"", "\"event\":\"kick\""};
    for (int i = 0; i < 2; i++) {
        void *reply = NULL;
        assert_int_equal(redisGetReply(sub, &reply), REDIS_OK);
        redisReply *msg = reply;
        assert_int_equal(msg->type, REDIS_REPLY_ARRAY);
        assert_int_equal(msg->elements, 3);
        const char *json = msg->element[2]->str;
        assert_non_null(strstr(json, want[i]));
        assert_non_null(strstr(json, "\"address\":\"10.7.0.1\""));
        assert_null(strchr(json, '\n'));
        freeReplyObject(reply);
    }
    redisFree(sub);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_route_allow_list(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], a[32], b[32];
    key_of(admin, 1);
    key_of(a, 2);
    key_of(b, 3);
    mesh_info_t mesh;
    mesh_member_t m;
    assert_int_equal(mesh_store_create(ms, "routes", "10.8.0.0/16", admin, false, 0, &mesh), 0);
    assert_int_equal(mesh_store_add_member(ms, mesh.id, a, "alpha", NULL, &m), 0);
    mesh_route_allow_t out[MESH_STORE_MAX_ROUTES + 4];

    // bad prefixes: refused, nothing stored
    const char *bad[] = {"192.168.50.1/24", "192.168.50.0", "192.168.50.0/33", "300.1.1.0/24", "10.0.0.0/8x", "",
                         "192.168.50.0/24 10.0.0.0/8"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, bad[i], 0), MESH_STORE_BAD);
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, 8), 0);

    assert_int_equal(mesh_store_routes_take_change(ms, mesh.id_hex), 0);
    assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, "192.168.50.0/24", 0), 0);
    assert_int_equal(mesh_store_routes_take_change(ms, mesh.id_hex), 1);  // marked for the hub's sweep
    assert_int_equal(mesh_store_routes_take_change(ms, mesh.id_hex), 0);  // once
    assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, "192.168.50.0/24", 0), 0);  // twice: once
    assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, "10.20.0.0/16", 0), 0);
    assert_int_equal(mesh_store_routes_allow(ms, "open-mesh", b, "172.16.0.0/12", 0), 0);    // an open mesh
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, 8), 2);
    assert_memory_equal(out[0].key, a, 32);
    assert_string_equal(out[0].prefix, "10.20.0.0/16");
    assert_string_equal(out[1].prefix, "192.168.50.0/24");
    assert_int_equal(mesh_store_routes_list(ms, "open-mesh", out, 8), 1);
    assert_string_equal(out[0].prefix, "172.16.0.0/12");

    mesh_store_routes_take_change(ms, mesh.id_hex);
    assert_int_equal(mesh_store_routes_deny(ms, mesh.id_hex, a, "10.20.0.0/16"), 0);
    assert_int_equal(mesh_store_routes_take_change(ms, mesh.id_hex), 1);
    assert_int_equal(mesh_store_routes_deny(ms, mesh.id_hex, a, "10.20.0.0/16"), MESH_STORE_NOT_FOUND);
    assert_int_equal(mesh_store_routes_take_change(ms, mesh.id_hex), 0);  // nothing changed
    assert_int_equal(mesh_store_routes_deny(ms, mesh.id_hex, b, "192.168.50.0/24"), MESH_STORE_NOT_FOUND);
    assert_int_equal(mesh_store_routes_deny(ms, mesh.id_hex, a, "10.20.0.1/16"), MESH_STORE_BAD);
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, 8), 1);
    assert_string_equal(out[0].prefix, "192.168.50.0/24");

    // at most MESH_STORE_MAX_ROUTES per member
    for (int i = 0; i < MESH_STORE_MAX_ROUTES - 1; i++) {
        char p[32];
        snprintf(p, sizeof p, "10.%d.0.0/16", 100 + i);
        assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, p, 0), 0);
    }
    assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, a, "10.250.0.0/16", 0), MESH_STORE_FULL);
    assert_int_equal(mesh_store_routes_allow(ms, mesh.id_hex, b, "10.250.0.0/16", 0), 0);  // b has its own
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, MESH_STORE_MAX_ROUTES + 4), MESH_STORE_MAX_ROUTES + 1);

    // a member leaving takes its allowances along; deleting the mesh takes the rest
    assert_int_equal(mesh_store_remove_member(ms, mesh.id, a, "leave"), 0);
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, 8), 1);
    assert_memory_equal(out[0].key, b, 32);
    assert_int_equal(mesh_store_delete(ms, mesh.id), 0);
    assert_int_equal(mesh_store_routes_list(ms, mesh.id_hex, out, 8), 0);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_room_expires(void **state)
{
    (void)state;
    store_t *store = connect_store();
    mesh_store_t *ms = mesh_store_new(store);
    uint8_t admin[32], nonce[16];
    key_of(admin, 1);
    memset(nonce, 0x99, sizeof nonce);
    mesh_info_t room, got;
    assert_int_equal(mesh_store_create(ms, "party", "10.8.0.0/16", admin, false, 2, &room), 0);
    mesh_member_t m;
    assert_int_equal(mesh_store_add_member(ms, room.id, admin, "alpha", NULL, &m), 0);
    // an invite asked for longer than the room lives dies with the room
    assert_int_equal(mesh_store_invite_register(ms, room.id, nonce, 5, room.expires + 3600), 0);
    redisReply *ttl = store_command(store, "TTL hub:invite:99999999999999999999999999999999");
    assert_non_null(ttl);
    assert_true(ttl->integer > 0 && ttl->integer <= 2);
    freeReplyObject(ttl);
    assert_int_equal(mesh_store_get(ms, room.id, &got), 0);
    sleep(3);
    assert_int_equal(mesh_store_get(ms, room.id, &got), MESH_STORE_NOT_FOUND);
    redisReply *keys = store_command(store, "KEYS hub:net:%s*", room.id_hex);
    assert_non_null(keys);
    assert_int_equal(keys->elements, 0);
    freeReplyObject(keys);
    assert_int_equal(mesh_store_invite_use(ms, room.id, nonce), MESH_STORE_NOT_FOUND);
    mesh_store_destroy(&ms);
    store_destroy(&store);
}

static void test_address_bindings(void **state)
{
    (void)state;
    store_t *store = connect_store();
    members_t *m = members_new(store, 15);
    uint8_t a[32], b[32], owner[32];
    key_of(a, 1);
    key_of(b, 2);
    assert_int_equal(members_binding(m, "default", "10.100.0.2", a, owner), 0);  // nobody holds it
    assert_int_equal(members_bind(m, "default", "10.100.0.2", a), 1);
    assert_int_equal(members_binding(m, "default", "10.100.0.2", a, owner), 1);
    assert_int_equal(members_binding(m, "default", "10.100.0.2", b, owner), MEMBERS_BOUND_ELSEWHERE);
    assert_memory_equal(owner, a, 32);
    assert_int_equal(members_bind(m, "default", "10.100.0.2", b), MEMBERS_BOUND_ELSEWHERE);  // lost the race
    assert_int_equal(members_binding(m, "other", "10.100.0.2", b, NULL), 0);  // per mesh
    redisReply *r = store_command(store, "TTL hub:bind:default:10.100.0.2");
    assert_non_null(r);
    assert_true(r->integer > MEMBERS_BIND_TTL_S - 60 && r->integer <= MEMBERS_BIND_TTL_S);
    freeReplyObject(r);
    members_destroy(&m);
    store_destroy(&store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_members),
        cmocka_unit_test(test_small_mesh_fills_up),
        cmocka_unit_test(test_concurrent_allocation),
        cmocka_unit_test(test_invites),
        cmocka_unit_test(test_revocations_and_events),
        cmocka_unit_test(test_room_expires),
        cmocka_unit_test(test_route_allow_list),
        cmocka_unit_test(test_address_bindings),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
