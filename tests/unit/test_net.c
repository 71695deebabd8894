/* SPDX-License-Identifier: MIT */
/* tests/unit/test_net.c: connections and listeners on a real loop, over
 * loopback TCP and a Unix socket. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libcommon/buf.h"
#include "libcommon/error.h"
#include "libcommon/net.h"
#include "tests/unit/testloop.h"
#include "tests/unit/unit.h"

/* One test's world: a listener, the server side and the client side. */
typedef struct world {
    net_listener *listener;
    net_conn *server, *client;
    buf server_got, client_got;
    unsigned accepted, last_same_host, closed, drained, timeouts, errors;
    int client_err;
    bool server_echoes;
    size_t stop_after;          /* stop the loop once the client got this many bytes */
} world;

static world w;

static void on_server_data(net_conn *c, const char *data, size_t len)
{
    buf_append(&w.server_got, data, len);
    if (w.server_echoes)
        net_conn_send(c, data, len);
}

static void on_client_data(net_conn *c, const char *data, size_t len)
{
    (void)c;
    buf_append(&w.client_got, data, len);
    if (w.stop_after && buf_len(&w.client_got) >= w.stop_after)
        uv_stop(net_loop());
}

static void on_drained(net_conn *c)
{
    (void)c;
    w.drained++;
}

static buf unsent_seen;

static void on_error(net_conn *c, int err)
{
    (void)err;
    w.errors++;
    if (c == w.server) {
        const char *data;
        size_t n = net_conn_unsent(c, &data);
        buf_append(&unsent_seen, data, n);
    }
}

static void on_closed(net_conn *c)
{
    if (c == w.server)
        w.server = NULL;
    if (c == w.client)
        w.client = NULL;
    w.closed++;
}

static const net_conn_events server_events = {
    .data = on_server_data, .drained = on_drained, .error = on_error, .closed = on_closed,
};
static const net_conn_events client_events = {
    .data = on_client_data, .error = on_error, .closed = on_closed,
};

static void on_accept(net_listener *l, net_conn *c, unsigned same_host)
{
    (void)l;
    w.accepted++;
    w.last_same_host = same_host;
    w.server = c;
    net_conn_set_events(c, &server_events, NULL);
}

static void on_connected(void *ud, net_conn *c, int err)
{
    (void)ud;
    w.client = c;
    w.client_err = err;
}

static bool is_connected(void)
{
    return w.server && w.client;
}

static void setup(void)
{
    memset(&w, 0, sizeof w);
    buf_init(&w.server_got);
    buf_init(&w.client_got);
    net_init(uv_default_loop());
}

static void start_tcp(void)
{
    net_listen_opts o = { .address = "127.0.0.1:0", .accept = on_accept };
    ck_assert_int_eq(net_listen(&o, &w.listener), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(w.listener));
    ck_assert_int_eq(net_connect(addr, false, NULL, NULL, &client_events, NULL,
                                 on_connected), 0);
    testloop_run_until(is_connected, 5000);
    ck_assert_int_eq(w.client_err, 0);
    ck_assert_ptr_nonnull(w.server);
}

static size_t want_server_bytes;
static bool server_has_all(void)
{
    return buf_len(&w.server_got) >= want_server_bytes;
}

START_TEST(moves_a_megabyte_both_ways_intact)
{
    start_tcp();
    w.server_echoes = true;
    size_t n = 1 << 20;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 251);
    for (size_t off = 0; off < n; off += 1000)
        net_conn_send(w.client, data + off, off + 1000 <= n ? 1000 : n - off);
    w.stop_after = n;
    uv_run(net_loop(), UV_RUN_DEFAULT);
    ck_assert_uint_eq(buf_len(&w.client_got), n);
    ck_assert_int_eq(memcmp(buf_data(&w.client_got), data, n), 0);
    ck_assert_int_eq(memcmp(buf_data(&w.server_got), data, n), 0);
    free(data);
}
END_TEST

/* Trimming between sends, also with a write under way, loses nothing. */
START_TEST(trimming_between_sends_loses_nothing)
{
    start_tcp();
    w.server_echoes = true;
    net_conn_retain(w.server);
    char chunk[5000];
    size_t total = 0;
    for (int round = 0; round < 20; round++) {
        memset(chunk, 'a' + round, sizeof chunk);
        net_conn_send(w.client, chunk, sizeof chunk);
        net_conn_trim(w.client);
        total += sizeof chunk;
        w.stop_after = total;
        uv_run(net_loop(), UV_RUN_DEFAULT);
        net_conn_trim(w.server);
    }
    ck_assert_uint_eq(buf_len(&w.client_got), total);
    for (size_t i = 0; i < total; i++)
        ck_assert_int_eq(buf_data(&w.client_got)[i], 'a' + (int)(i / sizeof chunk));
    ck_assert_uint_eq(net_conn_queued(w.server), 0);
}
END_TEST

static bool both_closed(void)
{
    return w.closed >= 2;
}

START_TEST(close_delivers_what_was_queued)
{
    start_tcp();
    size_t n = 300000;
    char *data = malloc(n);
    memset(data, 'z', n);
    net_conn_send(w.server, data, n);
    net_conn_close(w.server);          /* at once: the bytes must still arrive */
    ck_assert(net_conn_is_closing(w.server));
    testloop_run_until(both_closed, 5000);
    ck_assert_uint_eq(buf_len(&w.client_got), n);
    ck_assert_uint_ge(w.errors, 1);    /* the client saw EOF */
    free(data);
}
END_TEST

static bool got_drained(void)
{
    return w.drained > 0;
}

START_TEST(reports_the_queue_and_when_it_drains)
{
    start_tcp();
    net_conn_pause(w.client);          /* nobody reads: the queue must build up */
    net_conn_set_low_water(w.server, 64 * 1024);
    char chunk[16384];
    memset(chunk, 'q', sizeof chunk);
    for (int i = 0; i < 1024; i++)     /* 16 MiB: more than the kernel buffers */
        net_conn_send(w.server, chunk, sizeof chunk);
    for (int i = 0; i < 50; i++)
        uv_run(net_loop(), UV_RUN_NOWAIT);
    ck_assert_uint_gt(net_conn_queued(w.server), 1 << 20);
    ck_assert_uint_eq(w.drained, 0);
    net_conn_resume(w.client);
    testloop_run_until(got_drained, 10000);
    ck_assert_uint_eq(w.drained, 1);
    ck_assert_uint_le(net_conn_queued(w.server), 64 * 1024);
}
END_TEST

static size_t proc_third_number(const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned long a = 0, b = 0, c = 0;
    if (f) {
        if (fscanf(f, "%lu %lu %lu", &a, &b, &c) != 3)
            c = 0;
        fclose(f);
    }
    return c;
}

static size_t kernel_buffer_max(void)
{
    return proc_third_number("/proc/sys/net/ipv4/tcp_wmem") +
           proc_third_number("/proc/sys/net/ipv4/tcp_rmem");
}

static bool server_failed(void)
{
    return w.errors > 0;
}

START_TEST(returns_the_whole_messages_a_dead_peer_never_got)
{
    start_tcp();
    buf_init(&unsent_seen);
    net_conn_retain(w.server);
    net_conn_pause(w.client);          /* a peer that stopped reading */
    char msg[1000];
    int sent = 60000;                  /* 60 MB: more than the kernel can hold */
    for (int i = 0; i < sent; i++) {
        memset(msg, ' ', sizeof msg);
        int n = snprintf(msg, sizeof msg, "<m n='%06d'>", i);
        msg[n] = ' ';
        memcpy(msg + sizeof msg - 4, "</m>", 4);
        net_conn_send(w.server, msg, sizeof msg);
    }
    for (int i = 0; i < 50; i++)
        uv_run(net_loop(), UV_RUN_NOWAIT);
    /* The peer dies: a reset, as after SIGKILL with unread data. */
    uv_os_fd_t fd;
    uv_fileno((uv_handle_t *)w.client, &fd);
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    net_conn_close(w.client);
    testloop_run_until(server_failed, 5000);
    size_t n = buf_len(&unsent_seen);
    const char *d = buf_data(&unsent_seen);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(n % sizeof msg, 0);       /* whole messages only */
    int first = atoi(d + 6);
    for (size_t off = 0; off < n; off += sizeof msg)   /* in order, none missing */
        ck_assert_int_eq(atoi(d + off + 6), first + (int)(off / sizeof msg));
    ck_assert_int_eq(atoi(d + n - sizeof msg + 6), sent - 1);
    /* What is not returned was taken by the kernel, whose buffers hold at
     * most the send and receive maxima of the two sockets. */
    ck_assert_uint_le((size_t)first * sizeof msg, kernel_buffer_max());
    buf_close(&unsent_seen);
}
END_TEST

START_TEST(counts_connections_per_address)
{
    start_tcp();
    ck_assert_uint_eq(w.last_same_host, 1);
    net_conn *first_server = w.server, *first_client = w.client;
    w.server = w.client = NULL;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(w.listener));
    net_connect(addr, false, NULL, NULL, &client_events, NULL, on_connected);
    testloop_run_until(is_connected, 5000);
    ck_assert_uint_eq(w.last_same_host, 2);
    /* When one closes, the next one counts one again... after both sides go. */
    net_conn_close(first_client);
    net_conn_close(first_server);
    net_conn_close(w.client);
    net_conn_close(w.server);
    w.server = w.client = NULL;
    testloop_run_until(both_closed, 5000);
    for (int i = 0; i < 20; i++)
        uv_run(net_loop(), UV_RUN_NOWAIT);
    net_connect(addr, false, NULL, NULL, &client_events, NULL, on_connected);
    testloop_run_until(is_connected, 5000);
    ck_assert_uint_eq(w.last_same_host, 1);
}
END_TEST

START_TEST(works_over_a_unix_socket)
{
    char path[] = "/tmp/xmppd-net-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(path));
    char *sock = malloc(strlen(path) + 8);
    sprintf(sock, "%s/s", path);
    net_listen_opts o = { .address = sock, .is_unix = true, .accept = on_accept };
    ck_assert_int_eq(net_listen(&o, &w.listener), 0);
    ck_assert_int_eq(net_connect(sock, true, NULL, NULL, &client_events, NULL,
                                 on_connected), 0);
    testloop_run_until(is_connected, 5000);
    ck_assert_str_eq(net_conn_peer(w.server), "unix");
    net_conn_send(w.client, "hello", 5);
    want_server_bytes = 5;
    testloop_run_until(server_has_all, 5000);
    ck_assert_int_eq(memcmp(buf_data(&w.server_got), "hello", 5), 0);
    net_listener_close(w.listener);
    ck_assert_int_ne(access(sock, F_OK), 0);   /* the socket file is gone */
    rmdir(path);
    free(sock);
}
END_TEST

static void on_timeout(net_conn *c)
{
    (void)c;
    w.timeouts++;
}

static bool timed_out(void)
{
    return w.timeouts > 0;
}

START_TEST(fires_a_timeout_once_and_can_rearm_or_stop)
{
    start_tcp();
    net_conn_set_timeout(w.server, 30, on_timeout);
    testloop_run_until(timed_out, 2000);
    ck_assert_uint_eq(w.timeouts, 1);
    net_conn_set_timeout(w.server, 30, on_timeout);
    net_conn_set_timeout(w.server, 0, on_timeout);
    testloop_run_until(both_closed, 200);       /* nothing closes; just let time pass */
    ck_assert_uint_eq(w.timeouts, 1);
}
END_TEST

static bool connect_failed(void)
{
    return w.client_err != 0;
}

START_TEST(reports_a_refused_connection)
{
    /* Bind a port, close it, then connect to it: nobody listens there. */
    net_listen_opts o = { .address = "127.0.0.1:0", .accept = on_accept };
    net_listener *l;
    ck_assert_int_eq(net_listen(&o, &l), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", net_listener_port(l));
    net_listener_close(l);
    for (int i = 0; i < 5; i++)
        uv_run(net_loop(), UV_RUN_NOWAIT);
    ck_assert_int_eq(net_connect(addr, false, NULL, NULL, &client_events, NULL,
                                 on_connected), 0);
    testloop_run_until(connect_failed, 5000);
    ck_assert_int_eq(w.client_err, UV_ECONNREFUSED);
    ck_assert_ptr_null(w.client);
}
END_TEST

START_TEST(rejects_addresses_that_do_not_parse)
{
    char *host;
    int port;
    ck_assert_int_eq(net_split_address("[::1]:5347", &host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 5347);
    free(host);
    ck_assert_int_eq(net_split_address("localhost", &host, &port), XE_CONFIG);
    ck_assert_int_eq(net_split_address("a:99999", &host, &port), XE_CONFIG);
    ck_assert_int_eq(net_split_address("a:12x", &host, &port), XE_CONFIG);
    net_listen_opts o = { .address = "nonsense:1", .accept = on_accept };
    net_listener *l;
    ck_assert_int_eq(net_listen(&o, &l), XE_CONFIG);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *suite = suite_create("net");
    TCase *tc = tcase_create("net");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, moves_a_megabyte_both_ways_intact);
    tcase_add_test(tc, close_delivers_what_was_queued);    tcase_add_test(tc, trimming_between_sends_loses_nothing);
    tcase_add_test(tc, reports_the_queue_and_when_it_drains);
    tcase_add_test(tc, returns_the_whole_messages_a_dead_peer_never_got);
    tcase_add_test(tc, counts_connections_per_address);
    tcase_add_test(tc, works_over_a_unix_socket);
    tcase_add_test(tc, fires_a_timeout_once_and_can_rearm_or_stop);
    tcase_add_test(tc, reports_a_refused_connection);
    tcase_add_test(tc, rejects_addresses_that_do_not_parse);
    suite_add_tcase(suite, tc);
    return suite;
}
