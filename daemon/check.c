#include "check.h"

#include <stdio.h>

#include "config.h"
#include "diag.h"
#include "log.h"

/* Later issues add campaigns and templates here; each adds its problems to the same list. */
int
check_main(const char *file)
{
	struct diag d;
	struct config *cfg;
	int rc;

	log_init(1, LOG_LEVEL_WARN);
	diag_init(&d, file ? file : "(defaults)", NULL);
	cfg = config_load(file, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	rc = d.n > 0 ? 1 : 0;
	if (rc == 0)
		printf("%s: configuration ok\n", file ? file : "(defaults)");
	diag_free(&d);
	config_free(cfg);
	return rc;
}
