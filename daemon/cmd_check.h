/* `nurtured check`: validate everything a person wrote without starting, like `nginx -t`. */
#ifndef NURTURED_CHECK_H
#define NURTURED_CHECK_H

/* Prints one line per problem; returns 0 when valid, 1 otherwise. */
int check_main(const char *file);
/*
 * Warns, through WARN, about the configuration FILE being readable by every user when it holds
 * SECRETS (API tokens, the secret), or the data directory. Returns the number of warnings.
 */
int check_modes(const char *file, int secrets, const char *data_dir, void (*warn)(const char *msg));

#endif
