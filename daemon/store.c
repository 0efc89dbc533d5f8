#include "store.h"

#include <stdio.h>
#include <string.h>

/* Backends are found by name, OpenSMTPD-style; add PostgreSQL here. */
static const struct store_ops *store_backends[] = {&store_sqlite_ops};

struct store *
store_open(const struct store_options *opt, char *err, size_t errlen)
{
	const char *name = opt->backend ? opt->backend : "sqlite";
	for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++)
		if (strcmp(store_backends[i]->name, name) == 0)
			return store_backends[i]->open(opt, err, errlen);
	snprintf(err, errlen, "unknown store backend '%s'", name);
	return NULL;
}
