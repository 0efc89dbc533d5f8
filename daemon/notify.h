/* Service manager notifications (systemd Type=notify); no-ops without libsystemd. */
#ifndef NURTURED_NOTIFY_H
#define NURTURED_NOTIFY_H

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* True when a service manager waits for our notifications. */
int notify_expected(void);

#endif
