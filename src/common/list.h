/* Intrusive doubly linked list with O(1) removal (the kernel's hlist): a node knows the pointer
 * that points at it. */
#ifndef XTURN_COMMON_LIST_H
#define XTURN_COMMON_LIST_H

#include <stddef.h>

#include "common/container_of.h"

struct list_node {
    struct list_node *next;
    struct list_node **pprev;
};

static inline void list_push(struct list_node **head, struct list_node *n)
{
    n->next = *head;
    if (n->next)
        n->next->pprev = &n->next;
    n->pprev = head;
    *head = n;
}

static inline void list_unlink(struct list_node *n)
{
    *n->pprev = n->next;
    if (n->next)
        n->next->pprev = n->pprev;
    n->next = NULL;
    n->pprev = NULL;
}

#endif
