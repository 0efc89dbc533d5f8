/* The PostgreSQL backend's operations of store_engine.h, mirroring store_sqlite_engine.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_engine.h"
#include "util.h"

const struct store_engine_ops store_pg_engine_ops = {0};
