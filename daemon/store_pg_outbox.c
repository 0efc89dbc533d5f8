/* The PostgreSQL backend's operations of store_outbox.h, mirroring store_sqlite_outbox.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_outbox.h"
#include "util.h"

const struct store_outbox_ops store_pg_outbox_ops = {0};
