/* Small helpers shared by every part of the daemon: allocation that aborts on OOM, time. */
#ifndef NURTURED_UTIL_H
#define NURTURED_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define NT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock milliseconds since the Unix epoch. */
int64_t util_now_ms(void);
/* Monotonic microseconds, for measuring durations. */
int64_t util_mono_us(void);
/* mkdir -p; returns -1 with errno set on failure. */
int util_mkdirs(const char *path, unsigned int mode);

#endif
