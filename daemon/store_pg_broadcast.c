/* The PostgreSQL backend's operations of store_broadcast.h, mirroring store_sqlite_broadcast.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

const struct store_broadcast_ops store_pg_broadcast_ops = {0};
