/* Logging in the OpenSMTPD manner: stderr in the foreground, syslog otherwise. */
#ifndef NURTURED_LOG_H
#define NURTURED_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(int foreground, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 when unknown. */
int log_level_parse(const char *s);

/* warn appends strerror(errno); warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * A limiter for log lines about one condition that can repeat fast (accept failing, a full
 * disk): at most one line every INTERVAL_MS, and the next line says how many were held back.
 * Zero-initialise it with interval_ms set; a limiter is used by one thread only.
 */
struct log_ratelimit {
	int interval_ms;
	long long next_us;
	unsigned long suppressed;
};
/*
 * True when a line may be written now; *SUPPRESSED is then set to the number of lines held
 * back since the last one. False (counting one more held back) otherwise.
 */
int log_ratelimit_allow(struct log_ratelimit *rl, unsigned long *suppressed);

/* Routes libevent's own messages into this log. */
void log_route_libevent(void);

#endif
