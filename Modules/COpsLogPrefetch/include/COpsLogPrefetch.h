#ifndef COPSLOG_PREFETCH_H
#define COPSLOG_PREFETCH_H

// A software prefetch, which Swift has no spelling for. A prefetch never faults, whatever the
// address: the engine may hand it words that are not pointers at all.
static inline void opslog_prefetch_for_write(const void *address) {
  __builtin_prefetch(address, 1, 3);
}

#endif
