/* The PostgreSQL backend's operations of store_events.h, mirroring store_sqlite_events.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_events.h"
#include "util.h"

const struct store_event_ops store_pg_event_ops = {0};
