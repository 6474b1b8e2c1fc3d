// actor_loop.h — the one loop every service actor runs: handlers for its readable sockets and file
// descriptors, timers, the control socket's status requests and the pipe's $TERM, on CZMQ's zloop.
// An actor registers what it reacts to and runs the loop, so its file says what the service does, not
// how a loop is written:
//
//     actor_loop_t *loop = actor_loop_new(pipe, svc, self->control, self);
//     actor_loop_on_socket(loop, self->inbox, handle_inbox);
//     actor_loop_every(loop, 1000, tick);
//     actor_loop_run(loop);            // until the pipe says $TERM
//     actor_loop_destroy(&loop);
//
// The loop owns no sockets and no service state: `self` is handed back to every handler.
#ifndef WEFT_ACTOR_LOOP_H
#define WEFT_ACTOR_LOOP_H

#include <czmq.h>

#include "service.h"

typedef struct actor_loop actor_loop_t;

// A handler: 0 to go on, -1 to end the loop (after logging why).
typedef int(actor_handler_fn)(void *self);

// A loop for the actor on `pipe`; `control` (may be NULL) gets status requests answered with svc's
// counters and detail. Returns NULL (logged) when out of memory.
actor_loop_t *actor_loop_new(zsock_t *pipe, service_t *svc, zsock_t *control, void *self);
void actor_loop_destroy(actor_loop_t **loop);

// fn(self) each time sock (or fd) is readable. Returns 0, or -1 (logged).
int actor_loop_on_socket(actor_loop_t *loop, zsock_t *sock, actor_handler_fn *fn);
int actor_loop_on_fd(actor_loop_t *loop, int fd, actor_handler_fn *fn);
// Stops watching sock.
void actor_loop_forget_socket(actor_loop_t *loop, zsock_t *sock);
// Stops watching fd (before it is closed); its handler's slot is reused, so fds may come and go.
void actor_loop_forget_fd(actor_loop_t *loop, int fd);
// fn(self) every interval_ms, counted from the end of the previous call. Returns 0, or -1 (logged).
int actor_loop_every(actor_loop_t *loop, size_t interval_ms, actor_handler_fn *fn);
// fn(self) before each status answer, to bring counters up to date.
void actor_loop_before_status(actor_loop_t *loop, actor_handler_fn *fn);

// Runs until the pipe says $TERM or a handler returns -1. Returns 0 on $TERM, -1 otherwise.
int actor_loop_run(actor_loop_t *loop);

#endif
