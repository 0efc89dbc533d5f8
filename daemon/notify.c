#include "notify.h"

#include <stdlib.h>

#include "build.h"
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

void
notify_ready(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1\nSTATUS=running");
#endif
}

void
notify_reloading(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "RELOADING=1");
#endif
}

void
notify_stopping(void)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
}

int
notify_expected(void)
{
	return getenv("NOTIFY_SOCKET") != NULL;
}
