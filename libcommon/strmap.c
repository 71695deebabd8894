/* SPDX-License-Identifier: MIT */
/* libcommon/strmap.c: chained hashing with FNV-1a, doubling at load 1. */
#include "libcommon/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libcommon/alloc.h"

typedef struct strmap_entry {
    struct strmap_entry *next;
    void *value;
    char key[];
} strmap_entry;

struct strmap {
    strmap_entry **buckets;
    size_t size;                  /* a power of two */
    size_t count;
};

static size_t strmap_hash(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 32));
}

strmap *strmap_new(void)
{
    strmap *m = xalloc(sizeof *m);
    m->size = 16;
    m->buckets = xalloc(m->size * sizeof *m->buckets);
    return m;
}

void strmap_free(strmap *m, void (*free_value)(void *value))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->size; i++) {
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
        }
    }
    free(m->buckets);
    free(m);
}

static strmap_entry **strmap_slot(const strmap *m, const char *key)
{
    strmap_entry **p = &m->buckets[strmap_hash(key) & (m->size - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

void *strmap_get(const strmap *m, const char *key)
{
    strmap_entry *e = *strmap_slot(m, key);
    return e ? e->value : NULL;
}

static void strmap_grow(strmap *m)
{
    size_t size = m->size * 2;
    strmap_entry **buckets = xalloc(size * sizeof *buckets);
    for (size_t i = 0; i < m->size; i++) {
        for (strmap_entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t h = strmap_hash(e->key) & (size - 1);
            e->next = buckets[h];
            buckets[h] = e;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->size = size;
}

void *strmap_put(strmap *m, const char *key, void *value)
{
    strmap_entry **p = strmap_slot(m, key);
    if (*p) {
        void *old = (*p)->value;
        (*p)->value = value;
        return old;
    }
    size_t len = strlen(key);
    strmap_entry *e = xalloc(sizeof *e + len + 1);
    memcpy(e->key, key, len + 1);
    e->value = value;
    *p = e;
    if (++m->count > m->size)
        strmap_grow(m);
    return NULL;
}

void *strmap_remove(strmap *m, const char *key)
{
    strmap_entry **p = strmap_slot(m, key);
    strmap_entry *e = *p;
    if (!e)
        return NULL;
    void *value = e->value;
    *p = e->next;
    free(e);
    m->count--;
    return value;
}

size_t strmap_count(const strmap *m)
{
    return m->count;
}

void strmap_each(const strmap *m, void (*fn)(const char *key, void *value, void *ud),
                 void *ud)
{
    for (size_t i = 0; i < m->size; i++)
        for (strmap_entry *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->value, ud);
}
