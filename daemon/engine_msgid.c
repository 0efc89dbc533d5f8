/*
 * The right-hand side of the engine's Message-IDs, changed by a reload of mail_from. Kept
 * apart from engine.c for issue 15's parallel work; it belongs beside engine_new.
 */
#include <stdlib.h>

#include "engine.h"
#include "engine_int.h"
#include "util.h"

/* Store thread: the messages the engine decides from now on carry DOMAIN. */
void
engine_set_msgid_domain(struct engine *e, const char *domain)
{
	free(e->msgid_domain);
	e->msgid_domain = xstrdup(domain);
}
