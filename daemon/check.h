/* `nurtured check`: validate everything a person wrote without starting, like `nginx -t`. */
#ifndef NURTURED_CHECK_H
#define NURTURED_CHECK_H

/* Prints one line per problem; returns 0 when valid, 1 otherwise. */
int check_main(const char *file);
/*
 * Warns, through WARN, about the configuration FILE (it holds the API tokens) or the data
 * directory being readable by every user. Returns the number of warnings.
 */
int check_modes(const char *file, const char *data_dir, void (*warn)(const char *msg));

#endif
