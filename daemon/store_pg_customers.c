/* The PostgreSQL backend's operations of store_customers.h, mirroring store_sqlite_customers.c. */
#include <stdlib.h>
#include <string.h>

#include "store_customers.h"
#include "store_pg.h"
#include "util.h"

const struct store_customer_ops store_pg_customer_ops = {0};
