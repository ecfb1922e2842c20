/*
 * Node-API glue: unpack arguments, call the engine or one syscall wrapper,
 * return a number (>= 0, or -errno) or settle a Promise. Errors become
 * JavaScript errors in src/native/errno.ts, not here: the hot path creates no
 * Error objects. Arguments are validated in TypeScript before they get here;
 * this file only refuses values of the wrong type.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <node_api.h>

#include "include/zc.h"
#include "src/platform.h"

/* Slots of the Float64Array a job is started from and writes its results
 * into (src/native/binding.ts, JobSlot): inputs first, then results. */
enum {
  SLOT_MODE = 0,
  SLOT_SRC_FD,
  SLOT_DST_FD,
  SLOT_PIPE_RD,
  SLOT_PIPE_WR,
  SLOT_PIPE_CAPACITY,
  SLOT_SRC_OFFSET,
  SLOT_LENGTH,
  SLOT_BUDGET,
  SLOT_COPY_BUFFER,
  SLOT_FLAGS,
  SLOT_CACHE_WINDOW,
  SLOT_CACHE_PROBE_STRIDE,
  SLOT_MOVED,
  SLOT_COPIED,
  SLOT_SYSCALLS,
  SLOT_STATUS,
  SLOT_FAILED_SYSCALL,
  SLOT_FAILED_SIDE,
  SLOT_IN_PIPE,
  SLOT_HEAD_SENT,
  SLOT_OFFLOADS,
  SLOT_WAITS,
  SLOT_WAKEUPS,
  /* Send jobs: in, the socket's next MSG_ZEROCOPY id; out, the next after the job. */
  SLOT_ZC_NEXT_ID,
  SLOT_ZC_SENDS,
  SLOT_ZC_COMPLETIONS,
  SLOT_ZC_BYTES,
  SLOT_ZC_COPIED_BYTES,
  SLOT_ZC_ENOBUFS,
  SLOT_ZC_ENOBUFS_COPIED,
  JOB_SLOTS
};

typedef struct {
  napi_env env;
  zc_loop_t* loop;
  napi_ref resource;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  /* Pool pipes of this environment (poolPipeOpen/poolPipeClose): a worker
   * thread that exits closes them, since its JavaScript pool cannot. */
  int* pool_fds;
  size_t pool_fd_count, pool_fd_capacity;
} zc_binding_t;

typedef struct {
  zc_job_t job; /* first: the engine frees the whole struct with free(job) */
  zc_binding_t* binding;
  napi_deferred deferred;
  napi_ref result_ref;
  napi_ref head_ref;
  /* Send jobs: the buffers, kept alive (and their memory valid) until the
   * engine says the kernel is done with them. */
  zc_buffer_t* buffers;
  napi_ref* buffer_refs;
  size_t buffer_ref_count;
} zc_js_job_t;

typedef struct {
  zc_call_t call; /* first: the engine frees the whole struct with free(call) */
  zc_binding_t* binding;
  napi_deferred deferred;
} zc_js_call_t;

#define CHECK_NAPI(env, expr)                                   \
  do {                                                          \
    if ((expr) != napi_ok) {                                    \
      const napi_extended_error_info* info = NULL;              \
      napi_get_last_error_info((env), &info);                   \
      bool pending = false;                                     \
      napi_is_exception_pending((env), &pending);               \
      if (!pending)                                             \
        napi_throw_error((env), "ZC_ERR_NATIVE",                \
                         info && info->error_message            \
                             ? info->error_message              \
                             : "Node-API call failed: " #expr); \
      return NULL;                                              \
    }                                                           \
  } while (0)

#define ARGS(n)                                                                  \
  size_t argc = (n);                                                             \
  napi_value argv[(n) > 0 ? (n) : 1];                                            \
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));         \
  if (argc < (n)) {                                                              \
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "missing argument to binding");  \
    return NULL;                                                                 \
  }

static zc_binding_t* binding_of(napi_env env) {
  zc_binding_t* b = NULL;
  napi_get_instance_data(env, (void**)&b);
  return b;
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  if (napi_create_double(env, v, &out) != napi_ok) return NULL;
  return out;
}

/* TypeScript validates every argument first; a non-number here is a bug in
 * the caller, reported as a TypeError rather than a crash. */
static napi_value i32_arg(napi_env env, napi_value v, int32_t* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "expected a number argument");
    return NULL;
  }
  return v;
}

static napi_value i64_arg(napi_env env, napi_value v, int64_t* out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "expected a number argument");
    return NULL;
  }
  return v;
}

#define I32(i, name) \
  int32_t name;      \
  if (!i32_arg(env, argv[i], &name)) return NULL;
#define I64(i, name) \
  int64_t name;      \
  if (!i64_arg(env, argv[i], &name)) return NULL;

/* --- transfer jobs --------------------------------------------------------- */

static double* job_slots(napi_env env, napi_ref ref) {
  napi_value array;
  void* data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  if (napi_get_reference_value(env, ref, &array) != napi_ok) return NULL;
  if (napi_get_typedarray_info(env, array, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  return type == napi_float64_array && length >= JOB_SLOTS ? data : NULL;
}

static void write_results(napi_env env, zc_js_job_t* jj) {
  double* r = job_slots(env, jj->result_ref);
  if (r == NULL) return;
  const zc_job_t* j = &jj->job;
  r[SLOT_MOVED] = (double)j->moved;
  r[SLOT_COPIED] = (double)j->copied;
  r[SLOT_SYSCALLS] = (double)j->syscalls;
  r[SLOT_STATUS] = (double)j->status;
  r[SLOT_FAILED_SYSCALL] = (double)j->failed_syscall;
  r[SLOT_FAILED_SIDE] = (double)j->failed_side;
  r[SLOT_IN_PIPE] = (double)j->in_pipe;
  r[SLOT_HEAD_SENT] = (double)j->head_sent;
  r[SLOT_OFFLOADS] = (double)j->offloads;
  r[SLOT_WAITS] = (double)j->waits;
  r[SLOT_WAKEUPS] = (double)j->wakeups;
  r[SLOT_ZC_NEXT_ID] = (double)j->zc_next_id;
  r[SLOT_ZC_SENDS] = (double)j->zc.sends;
  r[SLOT_ZC_COMPLETIONS] = (double)j->zc.completions;
  r[SLOT_ZC_BYTES] = (double)j->zc.bytes;
  r[SLOT_ZC_COPIED_BYTES] = (double)j->zc.copied_bytes;
  r[SLOT_ZC_ENOBUFS] = (double)j->zc.enobufs;
  r[SLOT_ZC_ENOBUFS_COPIED] = (double)j->zc.enobufs_copied;
}

static void release_job_refs(napi_env env, zc_js_job_t* jj) {
  if (jj->result_ref) napi_delete_reference(env, jj->result_ref);
  if (jj->head_ref) napi_delete_reference(env, jj->head_ref);
  jj->result_ref = jj->head_ref = NULL;
  for (size_t i = 0; i < jj->buffer_ref_count; i++) napi_delete_reference(env, jj->buffer_refs[i]);
  free(jj->buffer_refs);
  free(jj->buffers);
  jj->buffer_refs = NULL;
  jj->buffers = NULL;
  jj->buffer_ref_count = 0;
}

/* Settles from a libuv callback need a handle scope and a callback scope: the
 * latter drains microtasks and restores the async_hooks context. Settles from
 * inside a JavaScript call (inline completion, cancel) already have both. */
typedef struct {
  napi_handle_scope handles;
  napi_callback_scope callback;
  int open;
} js_scope_t;

static void enter_js(zc_binding_t* b, js_scope_t* s) {
  napi_value resource;
  s->open = zc_loop_is_dispatching(b->loop);
  if (!s->open) return;
  napi_open_handle_scope(b->env, &s->handles);
  napi_get_reference_value(b->env, b->resource, &resource);
  napi_open_callback_scope(b->env, resource, b->async_context, &s->callback);
}

static void leave_js(zc_binding_t* b, js_scope_t* s) {
  if (!s->open) return;
  napi_close_callback_scope(b->env, s->callback);
  napi_close_handle_scope(b->env, s->handles);
}

static void on_job_done(zc_job_t* job) {
  zc_js_job_t* jj = (zc_js_job_t*)job;
  zc_binding_t* b = jj->binding;
  napi_env env = b->env;
  js_scope_t scope;
  napi_value undefined;
  enter_js(b, &scope);
  write_results(env, jj);
  release_job_refs(env, jj);
  napi_get_undefined(env, &undefined);
  napi_resolve_deferred(env, jj->deferred, undefined);
  jj->deferred = NULL;
  leave_js(b, &scope);
}

static void finalize_job(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  zc_job_unref(data);
}

/* A job from its slots (the input ones; the result ones are written back
 * into the same array), or NULL with a JavaScript exception pending. */
static zc_js_job_t* new_js_job(napi_env env, napi_value slots) {
  zc_js_job_t* jj = calloc(1, sizeof *jj);
  if (jj == NULL) {
    napi_throw_error(env, "ZC_ERR_NATIVE", "out of memory");
    return NULL;
  }
  if (napi_create_reference(env, slots, 1, &jj->result_ref) != napi_ok) {
    free(jj);
    napi_throw_error(env, "ZC_ERR_NATIVE", "cannot reference the job slots");
    return NULL;
  }
  const double* in = job_slots(env, jj->result_ref);
  if (in == NULL) {
    release_job_refs(env, jj);
    free(jj);
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "job slots must be a Float64Array of JOB_SLOTS");
    return NULL;
  }
  zc_job_t* j = &jj->job;
  jj->binding = binding_of(env);
  j->refs = 1; /* the JavaScript handle's */
  j->mode = (int)in[SLOT_MODE];
  j->flags = (unsigned)in[SLOT_FLAGS];
  j->src_fd = (int)in[SLOT_SRC_FD];
  j->dst_fd = (int)in[SLOT_DST_FD];
  j->pipe_rd = (int)in[SLOT_PIPE_RD];
  j->pipe_wr = (int)in[SLOT_PIPE_WR];
  j->pipe_capacity = (size_t)in[SLOT_PIPE_CAPACITY];
  j->src_offset = (int64_t)in[SLOT_SRC_OFFSET];
  j->remaining = (int64_t)in[SLOT_LENGTH];
  j->budget = (size_t)in[SLOT_BUDGET];
  j->copy_buffer_size = (size_t)in[SLOT_COPY_BUFFER];
  j->cache_window = (int64_t)in[SLOT_CACHE_WINDOW];
  j->cache_probe_stride = (size_t)in[SLOT_CACHE_PROBE_STRIDE];
  j->zc_next_id = (uint32_t)in[SLOT_ZC_NEXT_ID];
  j->done_cb = on_job_done;
  return jj;
}

static void discard_js_job(napi_env env, zc_js_job_t* jj) {
  release_job_refs(env, jj);
  free(jj);
}

/* Starts a job built by new_js_job: [Promise<void>, handle], or -errno when
 * it could not start (slots[FAILED_SYSCALL] and slots[FAILED_SIDE] say which
 * call). Owns jj from here on. */
static napi_value launch_js_job(napi_env env, zc_js_job_t* jj) {
  zc_job_t* j = &jj->job;
  napi_value promise, handle, pair;
  if (napi_create_promise(env, &jj->deferred, &promise) != napi_ok) goto fail;
  if (napi_create_external(env, j, finalize_job, NULL, &handle) != napi_ok) {
    /* The deferred is simply dropped; nothing else holds the promise. */
    goto fail;
  }
  int r = zc_job_start(jj->binding->loop, j);
  if (r < 0) {
    /* The handle's finalizer frees the job; report why it could not start. */
    napi_value undefined;
    j->status = r;
    write_results(env, jj);
    release_job_refs(env, jj);
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, jj->deferred, undefined); /* frees the deferred; no one awaits it */
    jj->deferred = NULL;
    return number(env, r);
  }
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &pair));
  CHECK_NAPI(env, napi_set_element(env, pair, 0, promise));
  CHECK_NAPI(env, napi_set_element(env, pair, 1, handle));
  return pair;

fail:
  discard_js_job(env, jj);
  CHECK_NAPI(env, napi_generic_failure);
  return NULL;
}

/* startJob(slots: Float64Array, head?: Buffer) → [Promise<void>, handle] or
 * -errno (slots[FAILED_SYSCALL] and slots[FAILED_SIDE] say which call). The
 * input slots describe the job; the result slots are written when it ends. */
static napi_value start_job(napi_env env, napi_callback_info info) {
  ARGS(2);
  zc_js_job_t* jj = new_js_job(env, argv[0]);
  if (jj == NULL) return NULL;
  napi_valuetype head_type;
  if (napi_typeof(env, argv[1], &head_type) != napi_ok) {
    discard_js_job(env, jj);
    CHECK_NAPI(env, napi_generic_failure);
  }
  if (head_type == napi_object) {
    void* head = NULL;
    size_t head_length = 0;
    if (napi_get_buffer_info(env, argv[1], &head, &head_length) != napi_ok) {
      discard_js_job(env, jj);
      napi_throw_type_error(env, "ZC_ERR_NATIVE", "head must be a Buffer");
      return NULL;
    }
    jj->job.head = head;
    jj->job.head_length = head_length;
    if (napi_create_reference(env, argv[1], 1, &jj->head_ref) != napi_ok) {
      discard_js_job(env, jj);
      CHECK_NAPI(env, napi_generic_failure);
    }
  }
  return launch_js_job(env, jj);
}

/* Takes a reference on every buffer (a Uint8Array) and its memory range. */
static int take_buffers(napi_env env, zc_js_job_t* jj, napi_value list, napi_value zerocopy) {
  uint32_t count = 0;
  void* flags = NULL;
  size_t flag_count = 0;
  napi_typedarray_type type;
  if (napi_get_array_length(env, list, &count) != napi_ok) return 0;
  if (napi_get_typedarray_info(env, zerocopy, &type, &flag_count, &flags, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || flag_count != count)
    return 0;
  jj->buffers = calloc(count ? count : 1, sizeof *jj->buffers);
  jj->buffer_refs = calloc(count ? count : 1, sizeof *jj->buffer_refs);
  if (jj->buffers == NULL || jj->buffer_refs == NULL) return 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value view;
    void* data = NULL;
    size_t length = 0;
    if (napi_get_element(env, list, i, &view) != napi_ok) return 0;
    if (napi_get_typedarray_info(env, view, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
      return 0;
    if (napi_create_reference(env, view, 1, &jj->buffer_refs[i]) != napi_ok) return 0;
    jj->buffer_ref_count++;
    jj->buffers[i].base = data;
    jj->buffers[i].length = length;
    jj->buffers[i].zerocopy = ((const uint8_t*)flags)[i] != 0;
  }
  jj->job.buffers = jj->buffers;
  jj->job.buffer_count = count;
  return 1;
}

/* startSendJob(slots, buffers: Uint8Array[], zerocopy: Uint8Array) → as
 * startJob. A send job (MODE_SEND, MODE_URING_SEND) sends the buffers in
 * order to slots[DST_FD]; zerocopy[i] says whether buffers[i] goes with
 * zero-copy. The buffers stay referenced until the promise settles, which is
 * after the kernel let go of every zero-copy page. */
static napi_value start_send_job(napi_env env, napi_callback_info info) {
  ARGS(3);
  zc_js_job_t* jj = new_js_job(env, argv[0]);
  if (jj == NULL) return NULL;
  if (!take_buffers(env, jj, argv[1], argv[2])) {
    discard_js_job(env, jj);
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "send buffers must be Uint8Arrays, with one zerocopy flag each");
    return NULL;
  }
  return launch_js_job(env, jj);
}

static zc_job_t* job_arg(napi_env env, napi_value v) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "not a transfer handle");
    return NULL;
  }
  return data;
}

static napi_value cancel_job(napi_env env, napi_callback_info info) {
  ARGS(1);
  zc_job_t* j = job_arg(env, argv[0]);
  if (j == NULL) return NULL;
  zc_job_cancel(j);
  return NULL;
}

/* Bytes the job has written so far, head included: cheap enough to poll from
 * an idle timer. */
static napi_value job_progress(napi_env env, napi_callback_info info) {
  ARGS(1);
  zc_job_t* j = job_arg(env, argv[0]);
  if (j == NULL) return NULL;
  /* A completion is progress too: a send job waiting for them is not idle. */
  return number(env, (double)(j->moved + (int64_t)j->head_sent + (int64_t)j->zc.completions));
}

/* resetConnection(handle) → 0 or -errno: connect(AF_UNSPEC) on the job's dup
 * of its destination, which drops what the kernel still queues for sending
 * (and so gives back pages a zero-copy send pinned) and resets the peer.
 * -EBADF once the job has ended. */
static napi_value reset_connection(napi_env env, napi_callback_info info) {
  ARGS(1);
  zc_job_t* j = job_arg(env, argv[0]);
  if (j == NULL) return NULL;
  if (j->state == ZC_JOB_DONE || j->dst_dup < 0) return number(env, -EBADF);
  return number(env, zc__disconnect(j->dst_dup));
}

static napi_value active_jobs(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, zc_loop_active_jobs(binding_of(env)->loop));
}

/* --- threadpool calls ------------------------------------------------------ */

static void on_call_done(zc_call_t* call) {
  zc_js_call_t* jc = (zc_js_call_t*)call;
  zc_binding_t* b = jc->binding;
  js_scope_t scope;
  enter_js(b, &scope);
  napi_value result;
  if (napi_create_double(b->env, (double)call->result, &result) == napi_ok)
    napi_resolve_deferred(b->env, jc->deferred, result);
  leave_js(b, &scope);
  free(call->path);
  free(jc);
}

static napi_value queue_call(napi_env env, zc_js_call_t* jc) {
  napi_value promise;
  jc->binding = binding_of(env);
  jc->call.done_cb = on_call_done;
  if (napi_create_promise(env, &jc->deferred, &promise) != napi_ok) {
    free(jc->call.path);
    free(jc);
    CHECK_NAPI(env, napi_generic_failure);
  }
  int r = zc_call_queue(jc->binding->loop, &jc->call);
  if (r < 0) {
    napi_value result = number(env, r);
    napi_resolve_deferred(env, jc->deferred, result);
    free(jc->call.path);
    free(jc);
  }
  return promise;
}

/* copyFileRange(fdIn, offIn, fdOut, offOut, length) → Promise<bytes | -errno>.
 * One call on the threadpool: it may wait for the disk. Offsets of -1 use and
 * advance the file positions. */
static napi_value copy_file_range_async(napi_env env, napi_callback_info info) {
  ARGS(5);
  I32(0, fd_in);
  I64(1, off_in);
  I32(2, fd_out);
  I64(3, off_out);
  I64(4, length);
  zc_js_call_t* jc = calloc(1, sizeof *jc);
  if (jc == NULL) return number(env, -ENOMEM);
  jc->call.op = ZC_CALL_COPY_FILE_RANGE;
  jc->call.fd_in = fd_in;
  jc->call.off_in = off_in;
  jc->call.fd_out = fd_out;
  jc->call.off_out = off_out;
  jc->call.length = (size_t)length;
  return queue_call(env, jc);
}

/* openat2(dirfd, path, flags, mode, resolve) → Promise<fd | -errno>, on the threadpool
 * like every other open in Node. */
static napi_value openat2_async(napi_env env, napi_callback_info info) {
  ARGS(5);
  I32(0, dirfd);
  I32(2, flags);
  I32(3, mode);
  I64(4, resolve);
  size_t length = 0;
  CHECK_NAPI(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &length));
  zc_js_call_t* jc = calloc(1, sizeof *jc);
  char* path = malloc(length + 1);
  if (jc == NULL || path == NULL) {
    free(jc);
    free(path);
    return number(env, -ENOMEM);
  }
  if (napi_get_value_string_utf8(env, argv[1], path, length + 1, &length) != napi_ok) {
    free(jc);
    free(path);
    CHECK_NAPI(env, napi_generic_failure);
  }
  jc->call.op = ZC_CALL_OPENAT2;
  jc->call.fd_in = dirfd;
  jc->call.path = path;
  jc->call.flags = flags;
  jc->call.mode = mode;
  jc->call.resolve = (uint64_t)resolve;
  return queue_call(env, jc);
}

/* --- single non-blocking steps and small helpers --------------------------- */

static int64_t* optional_offset(int64_t* off) {
  return *off >= 0 ? off : NULL;
}

static napi_value sendfile_once(napi_env env, napi_callback_info info) {
  ARGS(4);
  I32(0, out_fd);
  I32(1, in_fd);
  I64(2, offset);
  I64(3, count);
  return number(env, (double)zc__sendfile(out_fd, in_fd, optional_offset(&offset), (size_t)count));
}

static napi_value splice_once(napi_env env, napi_callback_info info) {
  ARGS(4);
  I32(0, in_fd);
  I64(1, offset);
  I32(2, out_fd);
  I64(3, count);
  return number(env, (double)zc__splice(in_fd, optional_offset(&offset), out_fd, (size_t)count));
}

static napi_value tee_once(napi_env env, napi_callback_info info) {
  ARGS(3);
  I32(0, in_fd);
  I32(1, out_fd);
  I64(2, count);
  return number(env, (double)zc__tee(in_fd, out_fd, (size_t)count));
}

static napi_value copy_file_range_once(napi_env env, napi_callback_info info) {
  ARGS(5);
  I32(0, fd_in);
  I64(1, off_in);
  I32(2, fd_out);
  I64(3, off_out);
  I64(4, count);
  return number(env, (double)zc__copy_file_range(fd_in, optional_offset(&off_in), fd_out,
                                                 optional_offset(&off_out), (size_t)count));
}

static napi_value pipe_result(napi_env env, int fds[2], int capacity) {
  napi_value out;
  CHECK_NAPI(env, napi_create_array_with_length(env, 3, &out));
  CHECK_NAPI(env, napi_set_element(env, out, 0, number(env, fds[0])));
  CHECK_NAPI(env, napi_set_element(env, out, 1, number(env, fds[1])));
  CHECK_NAPI(env, napi_set_element(env, out, 2, number(env, capacity)));
  return out;
}

/* pipe(sizeHint) → [readFd, writeFd, capacity] or -errno. Both ends
 * O_NONBLOCK|O_CLOEXEC; the caller owns and closes them. */
static napi_value make_pipe(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, size_hint);
  int fds[2];
  int capacity = 0;
  int r = zc__pipe(fds, size_hint, &capacity);
  if (r < 0) return number(env, r);
  return pipe_result(env, fds, capacity);
}

static int remember_pool_fd(zc_binding_t* b, int fd) {
  if (b->pool_fd_count == b->pool_fd_capacity) {
    size_t capacity = b->pool_fd_capacity ? b->pool_fd_capacity * 2 : 64;
    int* grown = realloc(b->pool_fds, capacity * sizeof *grown);
    if (grown == NULL) return -ENOMEM;
    b->pool_fds = grown;
    b->pool_fd_capacity = capacity;
  }
  b->pool_fds[b->pool_fd_count++] = fd;
  return 0;
}

static int forget_pool_fd(zc_binding_t* b, int fd) {
  for (size_t i = 0; i < b->pool_fd_count; i++) {
    if (b->pool_fds[i] != fd) continue;
    b->pool_fds[i] = b->pool_fds[--b->pool_fd_count];
    return 1;
  }
  return 0;
}

/* poolPipeOpen(sizeHint) → [readFd, writeFd, capacity] or -errno: a pipe
 * owned by this environment until poolPipeClose, or until the environment
 * (a worker thread) ends, which closes it. */
static napi_value pool_pipe_open(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, size_hint);
  zc_binding_t* b = binding_of(env);
  int fds[2];
  int capacity = 0;
  int r = zc__pipe(fds, size_hint, &capacity);
  if (r < 0) return number(env, r);
  if (remember_pool_fd(b, fds[0]) < 0 || remember_pool_fd(b, fds[1]) < 0) {
    forget_pool_fd(b, fds[0]);
    zc__close(fds[0]);
    zc__close(fds[1]);
    return number(env, -ENOMEM);
  }
  return pipe_result(env, fds, capacity);
}

/* poolPipeClose(readFd, writeFd) → 0, or -EBADF for fds poolPipeOpen did not give. */
static napi_value pool_pipe_close(napi_env env, napi_callback_info info) {
  ARGS(2);
  I32(0, read_fd);
  I32(1, write_fd);
  zc_binding_t* b = binding_of(env);
  int known = forget_pool_fd(b, read_fd) + forget_pool_fd(b, write_fd);
  if (known != 2) return number(env, -EBADF);
  zc__close(read_fd);
  zc__close(write_fd);
  return number(env, 0);
}

/* pipeBytes(fd) → bytes waiting in the pipe (FIONREAD), or -errno. */
static napi_value pipe_bytes(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, fd);
  return number(env, zc__pipe_bytes(fd));
}

/* dup(fd) → a new fd (O_CLOEXEC) the caller owns, or -errno. */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, fd);
  return number(env, zc__dup(fd));
}

static napi_value set_cork(napi_env env, napi_callback_info info) {
  ARGS(2);
  I32(0, fd);
  I32(1, on);
  return number(env, zc__set_cork(fd, on != 0));
}

static double* version_slots(napi_env env, napi_value value) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = NULL;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  return type == napi_float64_array && length >= ZC_VERSION_SLOTS ? data : NULL;
}

/* statVersionAt(dirfd, path, out: Float64Array(8)) → 0 or -errno: the version
 * of what `path` (relative to dirfd, -100 = AT_FDCWD) names now, written into
 * `out` with no allocation: the per-request freshness check of the static
 * server's cache. */
static napi_value stat_version_at(napi_env env, napi_callback_info info) {
  ARGS(3);
  I32(0, dirfd);
  char path[4096];
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &length) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "path must be a string");
    return NULL;
  }
  if (length >= sizeof path - 1) return number(env, -ENAMETOOLONG);
  double* out = version_slots(env, argv[2]);
  if (out == NULL) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "out must be a Float64Array of 8");
    return NULL;
  }
  return number(env, zc__stat_version_at(dirfd, path, out));
}

/* readCached(fd, buffer, position) → bytes read into `buffer`, or -errno
 * (-EAGAIN: the page is not in the page cache; read it on the threadpool). */
static napi_value read_cached(napi_env env, napi_callback_info info) {
  ARGS(3);
  I32(0, fd);
  I64(2, position);
  void* data = NULL;
  size_t length = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "buffer must be a Buffer");
    return NULL;
  }
  return number(env, (double)zc__pread_cached(fd, data, length, position));
}

/* fstatVersion(fd, out: Float64Array(8)) → 0 or -errno. */
static napi_value fstat_version(napi_env env, napi_callback_info info) {
  ARGS(2);
  I32(0, fd);
  double* out = version_slots(env, argv[1]);
  if (out == NULL) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "out must be a Float64Array of 8");
    return NULL;
  }
  return number(env, zc__fstat_version(fd, out));
}

static napi_value file_type(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, fd);
  return number(env, zc__file_type(fd));
}

static napi_value fadvise(napi_env env, napi_callback_info info) {
  ARGS(4);
  I32(0, fd);
  I64(1, offset);
  I64(2, length);
  I32(3, advice);
  return number(env, zc__fadvise(fd, offset, length, advice));
}

static napi_value cached_bytes(napi_env env, napi_callback_info info) {
  ARGS(3);
  I32(0, fd);
  I64(1, offset);
  I64(2, length);
  return number(env, (double)zc__cached_bytes(fd, offset, length));
}

/* vmspliceOnce(pipeWr, buffer) → bytes or -errno: the pipe then references the buffer's pages. */
static napi_value vmsplice_once(napi_env env, napi_callback_info info) {
  ARGS(2);
  I32(0, fd);
  void* data = NULL;
  size_t length = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "ZC_ERR_NATIVE", "expected a Buffer");
    return NULL;
  }
  return number(env, (double)zc__vmsplice(fd, data, length));
}

/* --- capability probes (zerocopy doctor) ------------------------------------ */

static napi_value number_array(napi_env env, const double* values, size_t count) {
  napi_value out;
  CHECK_NAPI(env, napi_create_array_with_length(env, count, &out));
  for (size_t i = 0; i < count; i++) CHECK_NAPI(env, napi_set_element(env, out, (uint32_t)i, number(env, values[i])));
  return out;
}

/* soZerocopy(type) → 0 or -errno: SO_ZEROCOPY on a fresh socket of that type. */
static napi_value probe_so_zerocopy(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, type);
  return number(env, zc__probe_so_zerocopy(type));
}

/* ioUring() → [status, features, lastOp, sendZc, sendmsgZc, splice, sendZcUsage]. */
static napi_value probe_io_uring(napi_env env, napi_callback_info info) {
  (void)info;
  zc_uring_probe_t p;
  zc__probe_uring(&p);
  double values[] = {p.status, p.features, p.last_op, p.send_zc, p.sendmsg_zc, p.splice, p.send_zc_usage};
  return number_array(env, values, sizeof values / sizeof values[0]);
}

static napi_value probe_ktls(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, zc__probe_ktls());
}

static napi_value probe_vmsplice(napi_env env, napi_callback_info info) {
  (void)info;
  return number(env, zc__probe_vmsplice());
}

static napi_value probe_cachestat(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, fd);
  return number(env, zc__probe_cachestat(fd));
}

static napi_value probe_pipe_capacity(napi_env env, napi_callback_info info) {
  ARGS(1);
  I32(0, size_hint);
  return number(env, zc__probe_pipe_capacity(size_hint));
}

/* ethtool(ifname) → [scatterGather, txChecksum, tso, gso], each 1, 0 or -errno. */
static napi_value probe_ethtool(napi_env env, napi_callback_info info) {
  ARGS(1);
  char name[64];
  size_t length = 0;
  CHECK_NAPI(env, napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length));
  int out[4] = {0, 0, 0, 0};
  int r = zc__probe_ethtool(name, out);
  if (r < 0) out[0] = out[1] = out[2] = out[3] = r;
  double values[] = {out[0], out[1], out[2], out[3]};
  return number_array(env, values, 4);
}

/* --- module setup ---------------------------------------------------------- */

/* Runs once no job or threadpool step can use a pool pipe any more. */
static void on_loop_closed(void* arg) {
  zc_binding_t* b = arg;
  napi_async_cleanup_hook_handle handle = b->cleanup;
  for (size_t i = 0; i < b->pool_fd_count; i++) zc__close(b->pool_fds[i]);
  free(b->pool_fds);
  free(b);
  napi_remove_async_cleanup_hook(handle);
}

/* Worker threads and process exit: stop every job, then let Node close the
 * loop once libuv holds nothing of ours (uv_loop_close would abort otherwise). */
static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  zc_binding_t* b = arg;
  b->cleanup = handle;
  napi_async_destroy(b->env, b->async_context);
  napi_delete_reference(b->env, b->resource);
  zc_loop_close(b->loop, on_loop_closed, b);
}

typedef struct {
  const char* name;
  int32_t value;
} constant_t;

static const constant_t constants[] = {
  {"MODE_SENDFILE", ZC_MODE_SENDFILE},
  {"MODE_SPLICE", ZC_MODE_SPLICE},
  {"MODE_TEE", ZC_MODE_TEE},
  {"MODE_COPY", ZC_MODE_COPY},
  {"SRC_REGULAR", ZC_SRC_REGULAR},
  {"DST_SOCKET", ZC_DST_SOCKET},
  {"DST_REGULAR", ZC_DST_REGULAR},
  {"HEAD_MORE", ZC_HEAD_MORE},
  {"SMALL_COPY", ZC_SMALL_COPY},
  {"MODE_SEND", ZC_MODE_SEND},
  {"MODE_URING_SEND", ZC_MODE_URING_SEND},
  {"ENABLE_ZEROCOPY", ZC_ENABLE_ZEROCOPY},
  {"SOCK_STREAM", SOCK_STREAM},
  {"SOCK_DGRAM", SOCK_DGRAM},
  {"STATUS_OK", ZC_STATUS_OK},
  {"STATUS_EOF", ZC_STATUS_EOF},
  {"STATUS_CANCELED", ZC_STATUS_CANCELED},
  {"JOB_SLOTS", JOB_SLOTS},
  {"SIDE_SRC", ZC_SIDE_SRC},
  {"SIDE_DST", ZC_SIDE_DST},
  {"O_RDONLY", O_RDONLY},
  {"O_NONBLOCK", O_NONBLOCK},
  {"O_DIRECTORY", O_DIRECTORY},
  {"O_PATH", O_PATH},
  {"RESOLVE_NO_MAGICLINKS", 0x02},
  {"RESOLVE_BENEATH", 0x08},
  {"S_IFMT", S_IFMT},
  {"S_IFREG", S_IFREG},
  {"S_IFBLK", S_IFBLK},
  {"S_IFIFO", S_IFIFO},
  {"S_IFSOCK", S_IFSOCK},
  {"POSIX_FADV_DONTNEED", POSIX_FADV_DONTNEED},
  {"POSIX_FADV_RANDOM", POSIX_FADV_RANDOM},
};

/* Index = zc_syscall_t. */
static const char* const syscall_names[] = {
  "", "sendfile", "splice", "tee", "read", "write", "send", "epoll_ctl", "dup", "malloc",
  "uv_queue_work", "poll", "getsockopt", "sendmsg", "setsockopt", "recvmsg", "io_uring_setup",
  "io_uring_enter", "send_zc",
};

typedef struct {
  const char* name;
  napi_callback fn;
} function_t;

static const function_t functions[] = {
  {"startJob", start_job},
  {"startSendJob", start_send_job},
  {"resetConnection", reset_connection},
  {"cancelJob", cancel_job},
  {"jobProgress", job_progress},
  {"activeJobs", active_jobs},
  {"copyFileRange", copy_file_range_async},
  {"openat2", openat2_async},
  {"poolPipeOpen", pool_pipe_open},
  {"poolPipeClose", pool_pipe_close},
  {"pipeBytes", pipe_bytes},
  {"dup", dup_fd},
  {"setCork", set_cork},
  {"fileType", file_type},
  {"statVersionAt", stat_version_at},
  {"readCached", read_cached},
  {"fstatVersion", fstat_version},
};

/* Synchronous single calls for tests and tools, kept off the main object:
 * they run on the calling thread (a cold file would block it) and bypass
 * every policy the library applies. */
static const function_t testing_functions[] = {
  {"sendfileOnce", sendfile_once},
  {"spliceOnce", splice_once},
  {"teeOnce", tee_once},
  {"copyFileRangeOnce", copy_file_range_once},
  {"pipe", make_pipe},
  {"fadvise", fadvise},
  {"cachedBytes", cached_bytes},
  {"vmspliceOnce", vmsplice_once},
};

/* Capability probes: each creates, tries and closes what it needs. */
static const function_t probe_functions[] = {
  {"soZerocopy", probe_so_zerocopy},
  {"ioUring", probe_io_uring},
  {"ktls", probe_ktls},
  {"vmsplice", probe_vmsplice},
  {"cachestat", probe_cachestat},
  {"pipeCapacity", probe_pipe_capacity},
  {"ethtool", probe_ethtool},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static napi_status define_functions(napi_env env, napi_value target, const function_t* table, size_t count) {
  for (size_t i = 0; i < count; i++) {
    napi_value fn;
    napi_status status = napi_create_function(env, table[i].name, NAPI_AUTO_LENGTH, table[i].fn, NULL, &fn);
    if (status == napi_ok) status = napi_set_named_property(env, target, table[i].name, fn);
    if (status != napi_ok) return status;
  }
  return napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  uv_loop_t* uv_loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &uv_loop));
  zc_binding_t* b = calloc(1, sizeof *b);
  if (b == NULL) {
    napi_throw_error(env, "ZC_ERR_NATIVE", "out of memory");
    return NULL;
  }
  b->env = env;
  int r = zc_loop_init(&b->loop, uv_loop);
  if (r < 0) {
    free(b);
    napi_throw_error(env, "ZC_ERR_NATIVE", "cannot create the epoll instance");
    return NULL;
  }
  napi_value resource, name;
  CHECK_NAPI(env, napi_create_object(env, &resource));
  CHECK_NAPI(env, napi_create_reference(env, resource, 1, &b->resource));
  CHECK_NAPI(env, napi_create_string_utf8(env, "zerocopy", NAPI_AUTO_LENGTH, &name));
  CHECK_NAPI(env, napi_async_init(env, resource, name, &b->async_context));
  CHECK_NAPI(env, napi_set_instance_data(env, b, NULL, NULL));
  CHECK_NAPI(env, napi_add_async_cleanup_hook(env, on_env_cleanup, b, NULL));

  CHECK_NAPI(env, define_functions(env, exports, functions, COUNT(functions)));
  napi_value testing;
  CHECK_NAPI(env, napi_create_object(env, &testing));
  CHECK_NAPI(env, define_functions(env, testing, testing_functions, COUNT(testing_functions)));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "testing", testing));
  napi_value probes;
  CHECK_NAPI(env, napi_create_object(env, &probes));
  CHECK_NAPI(env, define_functions(env, probes, probe_functions, COUNT(probe_functions)));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "probes", probes));
  napi_value consts, names;
  CHECK_NAPI(env, napi_create_object(env, &consts));
  for (size_t i = 0; i < COUNT(constants); i++)
    CHECK_NAPI(env, napi_set_named_property(env, consts, constants[i].name,
                                            number(env, constants[i].value)));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "constants", consts));
  CHECK_NAPI(env, napi_create_array_with_length(env, COUNT(syscall_names), &names));
  for (size_t i = 0; i < COUNT(syscall_names); i++) {
    napi_value s;
    CHECK_NAPI(env, napi_create_string_utf8(env, syscall_names[i], NAPI_AUTO_LENGTH, &s));
    CHECK_NAPI(env, napi_set_element(env, names, (uint32_t)i, s));
  }
  CHECK_NAPI(env, napi_set_named_property(env, exports, "syscallNames", names));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
