/* The PostgreSQL backend's operations of store_ui.h, mirroring store_sqlite_ui.c. */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"
#include "util.h"

const struct store_ui_ops store_pg_ui_ops = {0};
