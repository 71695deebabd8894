/* SPDX-License-Identifier: MIT */
/* bench/load.h: the pieces of xmppd-bench-component. component_load.c holds
 * the connections (XEP-0114 attach, sending, receiving), load_phase.c the
 * run's phases and the report, load_opts.c the command line. */
#ifndef XMPPD_BENCH_LOAD_H
#define XMPPD_BENCH_LOAD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bench/hist.h"

typedef struct load_opts {
    const char *host; /* TCP server address, IPv4 */
    int port;
    const char *unix_path;       /* or a Unix socket instead of TCP */
    unsigned components;         /* K */
    const char *prefix, *suffix; /* component i is PREFIX i SUFFIX */
    const char *secret;
    const char *name;     /* the name= of the RESULT line */
    unsigned window;      /* W: a component's stanzas in flight at most */
    unsigned batch;       /* stanzas in one write at most */
    size_t payload_bytes; /* body text of every message */
    unsigned users;       /* distinct user JIDs per component */
    double warmup_s, duration_s, timeout_s;
    uint64_t count;  /* measure until this many arrived (0: by time) */
    long server_pid; /* whose CPU to measure (0: none) */
    bool is_verbose; /* a progress line a second on stderr */
} load_opts;

typedef enum {
    LOAD_ATTACH,  /* connecting and handshaking */
    LOAD_WARMUP,  /* sending; nothing counted */
    LOAD_MEASURE, /* sending and counting */
    LOAD_DRAIN,   /* waiting for what is still in flight */
    LOAD_CLOSING, /* closing streams and handles */
} load_phase;

typedef enum {
    COMP_CONNECTING,
    COMP_OPENING,     /* stream header sent, waiting for the server's */
    COMP_HANDSHAKING, /* <handshake> sent */
    COMP_READY,
} comp_state;

typedef struct load load;

typedef struct load_comp {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io; /* first member: a handle pointer is the component */
    load *load;
    unsigned index;
    char *name;
    size_t name_len;
    comp_state state;
    bool is_open;     /* io initialized and not yet closed */
    bool wants_retry; /* connection refused: try again */
    bool is_writing;  /* wbuf is in flight */
    bool is_dirty;    /* its window opened: pump after this read */
    uv_connect_t connect;
    uv_write_t write;       /* a batch of stanzas */
    uv_write_t open_write;  /* the stream header */
    uv_write_t auth_write;  /* the handshake */
    uv_write_t close_write; /* the stream close */
    uv_shutdown_t shutdown;
    char *header;       /* the stream header sent */
    char handshake[64]; /* <handshake>40 hex digits</handshake> */
    char *wbuf;         /* one batch of stanzas */
    char *rbuf;         /* received, not yet framed */
    size_t rlen, rcap;
    uint64_t outstanding; /* sent by this component, not yet back */
    uint64_t seq;
} load_comp;

typedef struct load_counts {
    uint64_t sent, received, errors, bytes;
    uint64_t misrouted; /* arrived at a component it was not sent to */
    uint64_t corrupt;   /* the body text came back changed */
    uint64_t other;     /* elements the tool did not send */
} load_counts;

struct load {
    load_opts opts;
    uv_loop_t *loop;
    struct sockaddr_in addr;
    load_comp *comps;
    unsigned ready;
    load_phase phase;
    int exit_code;
    uint64_t low_water; /* free window worth a write */
    char *payload;
    uint64_t now; /* uv_hrtime() of the read being handled */
    uv_timer_t phase_timer, tick_timer, retry_timer, grace_timer;
    load_counts total, measured;
    hist latency; /* of the stanzas received while measuring */
    uint64_t measure_start_ns, measure_end_ns;
    double server_cpu_s, self_cpu_s; /* used during the measured interval */
    bool has_server_cpu;
    uint64_t last_received; /* for the stall check */
    unsigned stalled_s;
};

/* component_load.c */
/* Sends c's next batch when its window has room and nothing is in flight. */
void load_pump(load_comp *c);
/* Ends the run with exit code code after printing the message on stderr. */
void load_fail(load *l, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Closes every stream and handle; uv_run() returns once they are closed. */
void load_close_all(load *l);

/* load_phase.c */
/* Starts the attach timeout and the once-a-second tick. */
void load_start(load *l);
/* c finished its handshake; the warmup starts when all have. */
void load_on_ready(load_comp *c);
/* After a read: refills opened windows and moves to the next phase when
 * the measured count is reached or the drain is over. */
void load_after_receive(load *l);

/* load_opts.c */
/* Fills o from the command line. Returns 0, 1 after --help, or -1 after
 * printing a usage error. */
int load_opts_parse(load_opts *o, int argc, char **argv);
void *load_alloc(size_t size); /* zeroed; aborts when memory is out */
void *load_realloc(void *p, size_t size);
#endif
