/*
 * Files others may read: the configuration when it holds secrets, and the data directory.
 * Both `nurtured check` and the daemon's start warn about them (issue 18).
 */
#include "filemodes.h"

#include <glib.h>
#include <sys/stat.h>

/* Warns once per file, through the caller's channel: stderr for check, the log for the daemon. */
int
filemodes_check(const char *file, int secrets, const char *data_dir, void (*warn)(const char *msg))
{
	struct stat st;
	int n = 0;

	if (secrets && file != NULL && stat(file, &st) == 0 && (st.st_mode & S_IROTH)) {
		char *m = g_strdup_printf("%s is readable by every user, and it holds secrets (API "
					  "tokens, secret): chmod 0640 (group: the daemon's)",
					  file);
		warn(m);
		g_free(m);
		n++;
	}
	if (data_dir != NULL && stat(data_dir, &st) == 0 && (st.st_mode & (S_IROTH | S_IXOTH))) {
		char *m = g_strdup_printf("data_dir %s can be read by every user (customers' data, "
					  "the secret): chmod 0700",
					  data_dir);
		warn(m);
		g_free(m);
		n++;
	}
	return n;
}
