// actor_loop.c — see actor_loop.h.
#include "actor_loop.h"

#include "log.h"

#define MAX_HANDLERS 16

typedef struct {
    actor_loop_t *loop;
    actor_handler_fn *fn;       // NULL: a free slot (its fd was forgotten)
    int fd;                     // the fd watched (actor_loop_on_fd), else -1
} handler_t;

struct actor_loop {
    zloop_t *zloop;
    zsock_t *pipe;
    zsock_t *control;
    service_t *svc;
    void *self;
    actor_handler_fn *before_status;
    handler_t handlers[MAX_HANDLERS];    // the handlers zloop calls back, by address
    size_t handler_count;
    bool terminated;                     // the pipe said $TERM
};

static handler_t *new_handler(actor_loop_t *loop, actor_handler_fn *fn)
{
    for (size_t i = 0; i < loop->handler_count; i++)
        if (!loop->handlers[i].fn) {
            loop->handlers[i] = (handler_t){.loop = loop, .fn = fn, .fd = -1};
            return &loop->handlers[i];
        }
    if (loop->handler_count == MAX_HANDLERS) {
        log_error("actor loop: more than %d handlers", MAX_HANDLERS);
        return NULL;
    }
    handler_t *h = &loop->handlers[loop->handler_count++];
    *h = (handler_t){.loop = loop, .fn = fn, .fd = -1};
    return h;
}

static int call(zloop_t *zloop, zsock_t *sock, void *arg)
{
    (void)zloop;
    (void)sock;
    handler_t *h = arg;
    return h->fn(h->loop->self);
}

static int call_poller(zloop_t *zloop, zmq_pollitem_t *item, void *arg)
{
    (void)item;
    return call(zloop, NULL, arg);
}

static int call_timer(zloop_t *zloop, int timer_id, void *arg)
{
    (void)timer_id;
    return call(zloop, NULL, arg);
}

static int on_pipe(zloop_t *zloop, zsock_t *pipe, void *arg)
{
    (void)zloop;
    actor_loop_t *loop = arg;
    if (!service_pipe_terminated(pipe))
        return 0;
    loop->terminated = true;
    return -1;
}

static int on_control(zloop_t *zloop, zsock_t *control, void *arg)
{
    (void)zloop;
    actor_loop_t *loop = arg;
    if (loop->before_status)
        loop->before_status(loop->self);
    service_handle_control(loop->svc, control);
    return 0;
}

actor_loop_t *actor_loop_new(zsock_t *pipe, service_t *svc, zsock_t *control, void *self)
{
    actor_loop_t *loop = calloc(1, sizeof *loop);
    if (!loop || !(loop->zloop = zloop_new())) {
        log_error("actor loop: out of memory");
        free(loop);
        return NULL;
    }
    loop->pipe = pipe;
    loop->control = control;
    loop->svc = svc;
    loop->self = self;
    // only $TERM on the pipe ends the loop: a signal is the process's to handle (it destroys the actor)
    zloop_set_nonstop(loop->zloop, true);
    if (zloop_reader(loop->zloop, pipe, on_pipe, loop) != 0 ||
        (control && zloop_reader(loop->zloop, control, on_control, loop) != 0)) {
        log_error("actor loop: cannot watch the pipe or the control socket");
        actor_loop_destroy(&loop);
        return NULL;
    }
    return loop;
}

void actor_loop_destroy(actor_loop_t **loop_p)
{
    if (!loop_p || !*loop_p)
        return;
    zloop_destroy(&(*loop_p)->zloop);
    free(*loop_p);
    *loop_p = NULL;
}

int actor_loop_on_socket(actor_loop_t *loop, zsock_t *sock, actor_handler_fn *fn)
{
    handler_t *h = new_handler(loop, fn);
    if (!h || zloop_reader(loop->zloop, sock, call, h) != 0) {
        log_error("actor loop: cannot watch a socket");
        return -1;
    }
    zloop_reader_set_tolerant(loop->zloop, sock);   // a socket error is the handler's to report, not the loop's end
    return 0;
}

int actor_loop_on_fd(actor_loop_t *loop, int fd, actor_handler_fn *fn)
{
    handler_t *h = new_handler(loop, fn);
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    if (!h || zloop_poller(loop->zloop, &item, call_poller, h) != 0) {
        log_error("actor loop: cannot watch fd %d", fd);
        return -1;
    }
    zloop_poller_set_tolerant(loop->zloop, &item);
    h->fd = fd;
    return 0;
}

void actor_loop_forget_fd(actor_loop_t *loop, int fd)
{
    zmq_pollitem_t item = {NULL, fd, ZMQ_POLLIN, 0};
    zloop_poller_end(loop->zloop, &item);
    for (size_t i = 0; i < loop->handler_count; i++)
        if (loop->handlers[i].fn && loop->handlers[i].fd == fd)
            loop->handlers[i].fn = NULL;   // the slot is free for the next handler
}

void actor_loop_forget_socket(actor_loop_t *loop, zsock_t *sock)
{
    zloop_reader_end(loop->zloop, sock);
}

int actor_loop_every(actor_loop_t *loop, size_t interval_ms, actor_handler_fn *fn)
{
    handler_t *h = new_handler(loop, fn);
    if (!h || zloop_timer(loop->zloop, interval_ms, 0, call_timer, h) < 0) {
        log_error("actor loop: cannot add a %zu ms timer", interval_ms);
        return -1;
    }
    return 0;
}

void actor_loop_before_status(actor_loop_t *loop, actor_handler_fn *fn)
{
    loop->before_status = fn;
}

int actor_loop_run(actor_loop_t *loop)
{
    zloop_start(loop->zloop);
    return loop->terminated ? 0 : -1;
}
