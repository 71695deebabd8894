/* SPDX-License-Identifier: MIT */
/* libcommon/xmlmem.c: see xmlmem.h. The mapped blocks are remembered in an
 * open-addressing set (address -> length), so that a pointer libxml2 frees
 * is unmapped only if it is one of ours; any other goes to free(). */
#include "libcommon/xmlmem.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libxml/globals.h>
#include <libxml/xmlmemory.h>

#include "libcommon/log.h"

/* Smaller blocks come from malloc. A parser's blocks above this (its
 * context, input buffer, name table and name pool) are a page each. */
enum { XMLMEM_MAP_MIN = 512 };
/* libxml2 gives a new parser an input buffer of twice this plus one byte:
 * one page. It grows when a chunk needs more. */
enum { XMLMEM_INPUT_BUFFER = 2047 };

typedef struct xmlmem_slot {
    void *p;                          /* NULL: empty; XMLMEM_GONE: deleted */
    size_t len;
} xmlmem_slot;

static char xmlmem_gone_mark;
#define XMLMEM_GONE ((void *)&xmlmem_gone_mark)

static pthread_mutex_t xmlmem_lock = PTHREAD_MUTEX_INITIALIZER;
static xmlmem_slot *xmlmem_set;
static size_t xmlmem_cap, xmlmem_used, xmlmem_live; /* used counts gone slots too */
static size_t xmlmem_bytes;

static size_t xmlmem_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p >> 12;          /* mappings are page-aligned */
    return (size_t)(x * 0x9E3779B97F4A7C15u);
}

static void xmlmem_put(void *p, size_t len);

static void xmlmem_grow(void)
{
    xmlmem_slot *old = xmlmem_set;
    size_t old_cap = xmlmem_cap;
    xmlmem_cap = 64;                  /* a power of two, for the mask */
    while (xmlmem_cap < xmlmem_live * 4)
        xmlmem_cap *= 2;
    xmlmem_set = calloc(xmlmem_cap, sizeof *xmlmem_set);
    if (!xmlmem_set) {
        log_error("xmlmem", "out of memory");
        abort();
    }
    xmlmem_used = xmlmem_live = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].p && old[i].p != XMLMEM_GONE)
            xmlmem_put(old[i].p, old[i].len);
    free(old);
}

static void xmlmem_put(void *p, size_t len)
{
    if ((xmlmem_used + 1) * 2 > xmlmem_cap)
        xmlmem_grow();
    size_t mask = xmlmem_cap - 1, i = xmlmem_hash(p) & mask;
    while (xmlmem_set[i].p && xmlmem_set[i].p != XMLMEM_GONE)
        i = (i + 1) & mask;
    if (!xmlmem_set[i].p)
        xmlmem_used++;
    xmlmem_set[i] = (xmlmem_slot){ .p = p, .len = len };
    xmlmem_live++;
}

/* Removes p from the set; its mapped length, or 0 if it is not ours. */
static size_t xmlmem_take(void *p)
{
    if (!xmlmem_cap)
        return 0;
    size_t mask = xmlmem_cap - 1, i = xmlmem_hash(p) & mask;
    for (; xmlmem_set[i].p; i = (i + 1) & mask) {
        if (xmlmem_set[i].p == p) {
            size_t len = xmlmem_set[i].len;
            xmlmem_set[i].p = XMLMEM_GONE;
            xmlmem_live--;
            return len;
        }
    }
    return 0;
}

static size_t xmlmem_page_round(size_t n)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static void *xmlmem_malloc(size_t n)
{
    if (n < XMLMEM_MAP_MIN)
        return malloc(n);
    size_t len = xmlmem_page_round(n);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    pthread_mutex_lock(&xmlmem_lock);
    xmlmem_put(p, len);
    xmlmem_bytes += len;
    pthread_mutex_unlock(&xmlmem_lock);
    return p;
}

static void xmlmem_free(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&xmlmem_lock);
    size_t len = xmlmem_take(p);
    xmlmem_bytes -= len;
    pthread_mutex_unlock(&xmlmem_lock);
    if (len)
        munmap(p, len);
    else
        free(p);
}

static void *xmlmem_realloc(void *p, size_t n)
{
    if (!p)
        return xmlmem_malloc(n);
    pthread_mutex_lock(&xmlmem_lock);
    size_t len = xmlmem_take(p);
    if (len)
        xmlmem_put(p, len);            /* still ours until replaced */
    pthread_mutex_unlock(&xmlmem_lock);
    if (!len && n < XMLMEM_MAP_MIN)
        return realloc(p, n);
    if (len && n <= len)
        return p;
    void *q = xmlmem_malloc(n);
    if (!q)
        return NULL;
    size_t old = len ? len : malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    xmlmem_free(p);
    return q;
}

static char *xmlmem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmlmem_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

size_t xmlmem_mapped_bytes(void)
{
    pthread_mutex_lock(&xmlmem_lock);
    size_t n = xmlmem_bytes;
    pthread_mutex_unlock(&xmlmem_lock);
    return n;
}

static void xmlmem_install(void)
{
    xmlThrDefDefaultBufferSize(XMLMEM_INPUT_BUFFER);
    xmlDefaultBufferSize = XMLMEM_INPUT_BUFFER;
    if (xmlMemSetup(xmlmem_free, xmlmem_malloc, xmlmem_realloc, xmlmem_strdup) != 0)
        log_warn("xmlmem", "libxml2 kept its own memory functions");
}

void xmlmem_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, xmlmem_install);
}
