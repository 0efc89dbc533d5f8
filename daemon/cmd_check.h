/* `nurtured check`: validate everything a person wrote without starting, like `nginx -t`. */
#ifndef NURTURED_CHECK_H
#define NURTURED_CHECK_H

/* Prints one line per problem; returns 0 when valid, 1 otherwise. */
int check_main(const char *file);

#endif
