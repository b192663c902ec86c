// sendfile(2) from a file descriptor to a socket that libuv owns, for image downloads: the kernel
// copies from the page cache straight into the socket, where Node can only pread into a buffer
// and write that buffer (two copies, and the JS work around them).
//
//   open(socketFd) -> handle   dup()s the socket: the copy stays valid even if Node closes its own
//                              descriptor meanwhile (a client gone, a server closing), so a send
//                              in flight never writes into a descriptor number reused by something else
//   send(handle, fileFd, offset, length, cb(errno, sent, flags))
//                              on the libuv thread pool: sendfile() with an explicit offset (the
//                              file's position is untouched), until length bytes, the end of the file
//                              (flags & 2), an error (errno), or a socket that stays full for 5 ms
//                              (flags & 1: call wait() and send the rest). At most 64 MiB per call,
//                              so a fast transfer does not hold a pool thread for long.
//   wait(handle, cb(status))   on the event loop (uv_poll on the dup): cb once the socket is
//                              writable again (or broken: the next send reports the error), so a
//                              slow client holds no pool thread
//   close(handle)              stops a wait (its callback is dropped) and closes the dup once no
//                              send is running on it
//
// The socket is non-blocking (libuv's); the caller must not write to it through Node while a
// send or wait is pending, and must start only when Node's own write queue is empty.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_PER_CALL (64LL << 20)
#define WAIT_MS 5
#define FLAG_WOULD_BLOCK 1
#define FLAG_EOF 2

typedef struct {
  int fd;               /* our dup of the socket; -1 once closed */
  uv_poll_t poll;
  int poll_init;        /* poll handle initialised (must be uv_close'd) */
  int poll_closing;
  int busy;             /* a send job runs on the pool */
  int close_wanted;     /* close() came while busy */
  int finalized;        /* the JS object is gone: free on the poll's close callback */
  napi_env env;
  napi_ref wait_cb;     /* the pending wait's callback */
  napi_ref wait_hold;   /* keeps the handle's JS object alive while waiting */
  napi_async_context actx;
} sock_t;

typedef struct {
  sock_t *s;
  int in_fd;
  int64_t off;
  int64_t len;
  int64_t sent;
  int err;
  int flags;
  napi_ref cb;
  napi_ref hold;
  napi_async_work work;
} job_t;

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

static void on_poll_closed(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  if (s->fd >= 0) { close(s->fd); s->fd = -1; }
  s->poll_closing = 0;
  if (s->finalized) free(s);
}

/* Releases the OS resources (not the struct). Only on the loop thread, never while busy. */
static void release(sock_t *s) {
  if (s->wait_cb) { napi_delete_reference(s->env, s->wait_cb); s->wait_cb = NULL; }
  if (s->wait_hold) { napi_delete_reference(s->env, s->wait_hold); s->wait_hold = NULL; }
  if (s->actx) { napi_async_destroy(s->env, s->actx); s->actx = NULL; }
  if (s->poll_init) {
    s->poll_init = 0;
    s->poll_closing = 1;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed); /* closes the fd after libuv let go of it */
  } else if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  sock_t *s = (sock_t *)data;
  /* Nothing can be pending here: jobs and waits hold a reference to the object. */
  release(s);
  if (s->poll_closing) s->finalized = 1; else free(s);
}

static sock_t *get_sock(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) { napi_throw_type_error(env, NULL, "not a sendfile handle"); return NULL; }
  return (sock_t *)p;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) { napi_throw_type_error(env, NULL, "open(fd): fd must be a descriptor"); return NULL; }
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) { int e = errno; napi_throw_error(env, uv_err_name(-e), strerror(e)); return NULL; }
  sock_t *s = calloc(1, sizeof *s);
  if (!s) { close(d); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  s->fd = d;
  s->env = env;
  napi_value res, name;
  napi_create_string_utf8(env, "monostack-sendfile", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, NULL, name, &s->actx) != napi_ok ||
      napi_create_external(env, s, finalize_sock, NULL, &res) != napi_ok) {
    close(d);
    free(s);
    napi_throw_error(env, NULL, "open: cannot create the handle");
    return NULL;
  }
  return res;
}

static void exec_send(napi_env env, void *data) {
  (void)env;
  job_t *j = (job_t *)data;
  off_t off = (off_t)j->off;
  int stalls = 0;
  while (j->sent < j->len) {
    size_t want = (size_t)(j->len - j->sent);
    ssize_t n = sendfile(j->s->fd, j->in_fd, &off, want);
    if (n > 0) { j->sent += n; stalls = 0; continue; }
    if (n == 0) { j->flags |= FLAG_EOF; break; }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) { j->err = errno; break; }
    /* The socket is full: wait a little here (a fast reader drains it within microseconds),
     * then hand back to the event loop. */
    struct pollfd p = { .fd = j->s->fd, .events = POLLOUT, .revents = 0 };
    int r = poll(&p, 1, WAIT_MS);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) { j->err = errno; break; }
    if (r == 0 || ++stalls > 100) { j->flags |= FLAG_WOULD_BLOCK; break; }
  }
}

static void call_js(napi_env env, napi_async_context actx, napi_ref cbref, size_t argc, napi_value *argv) {
  napi_value cb, global;
  if (napi_get_reference_value(env, cbref, &cb) != napi_ok || !cb) return;
  napi_get_global(env, &global);
  napi_value ignored;
  if (napi_make_callback(env, actx, global, cb, argc, argv, &ignored) != napi_ok) {
    /* An exception from the callback: report it as uncaught, as Node does for its own callbacks. */
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
}

static void complete_send(napi_env env, napi_status status, void *data) {
  job_t *j = (job_t *)data;
  sock_t *s = j->s;
  s->busy = 0;
  napi_value argv[3];
  napi_create_int32(env, status == napi_ok ? j->err : ECANCELED, &argv[0]);
  napi_create_double(env, (double)j->sent, &argv[1]);
  napi_create_int32(env, j->flags, &argv[2]);
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  if (s->close_wanted) release(s); /* closed meanwhile: the callback still learns what was sent */
  else call_js(env, s->actx, j->cb, 3, argv);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  napi_delete_reference(env, j->hold); /* last: may let the handle be finalized */
  free(j);
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) { napi_throw_type_error(env, NULL, "send(handle, fd, offset, length, cb)"); return NULL; }
  sock_t *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  int32_t in_fd;
  int64_t off, len;
  napi_valuetype t;
  if (napi_get_value_int32(env, argv[1], &in_fd) != napi_ok || napi_get_value_int64(env, argv[2], &off) != napi_ok ||
      napi_get_value_int64(env, argv[3], &len) != napi_ok || napi_typeof(env, argv[4], &t) != napi_ok || t != napi_function ||
      in_fd < 0 || off < 0 || len < 0) {
    napi_throw_type_error(env, NULL, "send(handle, fd, offset, length, cb): bad arguments");
    return NULL;
  }
  if (s->fd < 0 || s->close_wanted || s->poll_closing) { napi_throw_error(env, NULL, "send: handle closed"); return NULL; }
  if (s->busy || s->wait_cb) { napi_throw_error(env, NULL, "send: a send or wait is already pending"); return NULL; }
  job_t *j = calloc(1, sizeof *j);
  if (!j) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  j->s = s;
  j->in_fd = in_fd;
  j->off = off;
  j->len = len > MAX_PER_CALL ? MAX_PER_CALL : len;
  napi_value name;
  napi_create_string_utf8(env, "monostack-sendfile", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[4], 1, &j->cb) != napi_ok || napi_create_reference(env, argv[0], 1, &j->hold) != napi_ok ||
      napi_create_async_work(env, NULL, name, exec_send, complete_send, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_throw_error(env, NULL, "send: cannot queue the work");
    return NULL; /* j leaks only on this internal failure */
  }
  s->busy = 1;
  return NULL;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  sock_t *s = (sock_t *)h->data;
  uv_poll_stop(h);
  napi_env env = s->env;
  napi_ref cb = s->wait_cb, hold = s->wait_hold;
  s->wait_cb = NULL;
  s->wait_hold = NULL;
  if (!cb) { if (hold) napi_delete_reference(env, hold); return; }
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[1];
  napi_create_int32(env, status < 0 ? -status : 0, &argv[0]);
  call_js(env, s->actx, cb, 1, argv);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, cb);
  if (hold) napi_delete_reference(env, hold);
}

static napi_value js_wait(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 2 || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) { napi_throw_type_error(env, NULL, "wait(handle, cb)"); return NULL; }
  sock_t *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  if (s->fd < 0 || s->close_wanted || s->poll_closing) { napi_throw_error(env, NULL, "wait: handle closed"); return NULL; }
  if (s->busy || s->wait_cb) { napi_throw_error(env, NULL, "wait: a send or wait is already pending"); return NULL; }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (!s->poll_init) {
    int r = uv_poll_init_socket(loop, &s->poll, s->fd);
    if (r < 0) { napi_throw_error(env, NULL, uv_strerror(r)); return NULL; }
    s->poll.data = s;
    s->poll_init = 1;
  }
  CHECK(napi_create_reference(env, argv[1], 1, &s->wait_cb));
  CHECK(napi_create_reference(env, argv[0], 1, &s->wait_hold));
  int r = uv_poll_start(&s->poll, UV_WRITABLE | UV_DISCONNECT, on_poll);
  if (r < 0) {
    napi_delete_reference(env, s->wait_cb);
    napi_delete_reference(env, s->wait_hold);
    s->wait_cb = s->wait_hold = NULL;
    napi_throw_error(env, NULL, uv_strerror(r));
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) { napi_throw_type_error(env, NULL, "close(handle)"); return NULL; }
  sock_t *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  if (s->busy) { s->close_wanted = 1; return NULL; } /* the send's completion releases it */
  release(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL },
    { "wait", NULL, js_wait, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
