/* The PostgreSQL backend's operations of store_measure.h, mirroring store_sqlite_measure.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "store_measure.h"
#include "util.h"

const struct store_measure_ops store_pg_measure_ops = {0};
