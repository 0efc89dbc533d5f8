/* The PostgreSQL backend's operations of store_inbound.h, mirroring store_sqlite_inbound.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_inbound.h"
#include "util.h"

const struct store_inbound_ops store_pg_inbound_ops = {0};
