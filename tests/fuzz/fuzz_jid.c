/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_jid.c: libFuzzer target for jid_parse() and jid_build().
 * Besides not crashing, preparation must be idempotent: a prepared JID
 * parses to itself, part by part, through every entry point. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"
#include "libcommon/jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_jid: %s\n  first:  \"%s\"\n  second: \"%s\"\n", what,
            a ? a : "(null)", b ? b : "(null)");
    abort();
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void check_same_jid(const jid *j, const jid *k, const char *what)
{
    if (!jid_equal(j, k) || !jid_bare_equal(j, k) ||
        !same(jid_full(j), jid_full(k)) || !same(jid_bare(j), jid_bare(k)) ||
        !same(jid_local(j), jid_local(k)) ||
        !same(jid_domain(j), jid_domain(k)) ||
        !same(jid_resource(j), jid_resource(k)))
        fuzz_fail(what, jid_full(j), jid_full(k));
}

/* j is a prepared JID: everything derived from it must prepare to itself. */
static void check_stable(const jid *j)
{
    jid *again = NULL;

    if (jid_parse(jid_full(j), &again) != 0)
        fuzz_fail("prepared jid does not parse", jid_full(j), NULL);
    check_same_jid(j, again, "parse(full) changed the jid");
    jid_free(again);

    if (jid_build(jid_local(j), jid_domain(j), jid_resource(j), &again) != 0)
        fuzz_fail("prepared parts do not build", jid_full(j), NULL);
    check_same_jid(j, again, "build(parts) changed the jid");
    jid_free(again);

    jid *bare = jid_to_bare(j);
    if (jid_parse(jid_bare(j), &again) != 0)
        fuzz_fail("prepared bare jid does not parse", jid_bare(j), NULL);
    check_same_jid(bare, again, "parse(bare) changed the jid");
    if (!jid_is_bare(bare) || !jid_bare_equal(j, bare))
        fuzz_fail("jid_to_bare", jid_full(j), jid_full(bare));
    jid_free(again);
    jid_free(bare);

    jid *copy = jid_dup(j);
    check_same_jid(j, copy, "jid_dup changed the jid");
    jid_free(copy);

    char *domain = NULL;
    if (jid_domain_normalize(jid_domain(j), &domain) != 0 ||
        strcmp(domain, jid_domain(j)) != 0)
        fuzz_fail("domain does not normalize to itself", jid_domain(j), domain);
    free(domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The whole input is one address (up to a NUL); split at NULs it is
     * also the local, domain and resource arguments of jid_build(). */
    char *s = xstrndup((const char *)data, size);
    jid *j = (jid *)&j;

    int err = jid_parse(s, &j);
    if (err == 0)
        check_stable(j);
    else if (j != NULL)
        fuzz_fail("failed parse left a jid", s, NULL);
    jid_free(j);

    const char *parts[3] = {NULL, NULL, NULL};
    size_t n = 0, start = 0;
    for (size_t i = 0; i < size && n < 3; i++) {
        if (data[i] == '\0') {
            parts[n++] = s + start;
            start = i + 1;
        }
    }
    if (n >= 2) {
        if (n == 2)
            parts[2] = s + start;
        /* An empty first or last piece stands for an absent part. */
        const char *local = parts[0][0] ? parts[0] : NULL;
        const char *resource = parts[2][0] ? parts[2] : NULL;
        j = NULL;
        if (jid_build(local, parts[1], resource, &j) == 0)
            check_stable(j);
        jid_free(j);
    }
    free(s);
    return 0;
}
