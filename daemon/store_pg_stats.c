/* The PostgreSQL backend's operations of store_stats.h, mirroring store_sqlite_stats.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_stats.h"
#include "util.h"

const struct store_stats_ops store_pg_stats_ops = {0};
