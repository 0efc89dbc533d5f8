/* Files others may read: the configuration when it holds secrets, and the data directory. */
#ifndef NURTURED_FILEMODES_H
#define NURTURED_FILEMODES_H

/*
 * Warns, through WARN, about the configuration FILE being readable by every user when it holds
 * SECRETS (API tokens, the secret), or the data directory. Returns the number of warnings.
 */
int filemodes_check(const char *file, int secrets, const char *data_dir,
		    void (*warn)(const char *msg));

#endif
