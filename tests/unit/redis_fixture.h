// redis_fixture.h — a real redis-server for a unit test: started on a unix socket (no TCP port) in a
// fresh temporary directory, killed and removed by the test. Used by the tests of code that talks to Redis
// (lib/store.c, the hub's mesh store), so they exercise the real server, not a mock.
#ifndef WEFT_TEST_REDIS_FIXTURE_H
#define WEFT_TEST_REDIS_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    char dir[64];       // the temporary directory (Redis's --dir)
    char sock[128];     // <dir>/redis.sock
    char url[160];      // unix://<sock>, for store_connect
    pid_t pid;          // the running redis-server, 0 when none
    bool aof;           // start with an append-only file (everysec), else no persistence at all
} redis_fixture_t;

// Makes /tmp/weft-<name>.XXXXXX and starts redis-server there. Returns 0, or -1 (nothing left running).
int redis_fixture_setup(redis_fixture_t *r, const char *name, bool aof);
// Starts redis-server again in the same directory (after redis_fixture_kill) and waits for its socket.
int redis_fixture_start(redis_fixture_t *r);
// Sends sig (SIGKILL for a crash, SIGTERM for a clean stop) and reaps the server.
void redis_fixture_kill(redis_fixture_t *r, int sig);
// Stops the server if it runs and removes the directory. Returns 0, or -1 if the directory stays.
int redis_fixture_teardown(redis_fixture_t *r);

#endif
